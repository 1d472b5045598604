export * from "./domain/definition.ts";
export { flowsService, flowsSettings, type FlowsSettings } from "./service.ts";
