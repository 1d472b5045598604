export * from "./domain/atom.ts";
export * from "./domain/enforceability.ts";
export * from "./domain/scdl.ts";
export { iplService, iplSettings, type IplSettings } from "./service.ts";
export { publicationRequest, type PublicationRequest } from "./publications.ts";
