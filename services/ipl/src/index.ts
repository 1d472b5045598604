export * from "./domain/atom.ts";
export * from "./domain/enforceability.ts";
export * from "./domain/scdl.ts";
