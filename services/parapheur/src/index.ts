export * from "./domain/cades.ts";
export * from "./domain/pki.ts";
