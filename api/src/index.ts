export * from "./schema/index.ts";
export * from "./generated/types.ts";
export { departementOf, isValidSiren, isValidSiret, sirenWithCheckDigit, siretWithCheckDigit, validateCollectivitySpec, validateSecureShareSpec, validateServiceInstanceSpec, ValidationError } from "./validate.ts";
export { customResourceDefinition } from "./generate/crd.ts";
export { writeGenerated } from "./generate/write.ts";
