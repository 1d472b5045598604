export * from "./domain/cades.ts";
export * from "./domain/pki.ts";
export * from "./domain/pades.ts";
export * from "./domain/xades.ts";
