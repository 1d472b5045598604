export * from "./domain/act.ts";
export * from "./domain/envelope.ts";
export * from "./domain/identifiers.ts";
export * from "./domain/statuses.ts";
