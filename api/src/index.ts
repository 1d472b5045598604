export * from "./schema/index.ts";
export * from "./generated/types.ts";
export { departementOf, isValidSiren, sirenWithCheckDigit, validateCollectivitySpec, validateSecureShareSpec, validateServiceInstanceSpec, ValidationError } from "./validate.ts";
export { customResourceDefinition } from "./generate/crd.ts";
export { writeGenerated } from "./generate/write.ts";
