import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import type { CollectivitySpec, SecureShareSpec, ServiceInstanceSpec } from "./generated/types.ts";
import { collectivity, maxSettingsBytes, platformSecrets, secureShare, serviceInstance, type ResourceDefinition } from "./schema/index.ts";

/**
 * Validators built from the same schemas as the CRDs. They check what OpenAPI checks (types,
 * enums, bounds, patterns) and fill in defaults; the CEL rules run in the API server, except the
 * SIREN check digit, which `isValidSiren` also computes here.
 */
const ajv = new Ajv({ allErrors: true, useDefaults: true, validateFormats: false, strict: true });
ajv.addVocabulary([
  "x-kubernetes-validations",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-map-type",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-int-or-string",
  "x-kubernetes-embedded-resource",
]);

export class ValidationError extends Error {
  override name = "ValidationError";
  constructor(
    readonly kind: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid ${kind}: ${problems.join("; ")}`);
  }
}

/** Luhn's check over a number's digits: from the right, every second digit is doubled (less 9 past 9). */
function passesLuhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    const digit = Number(digits[digits.length - 1 - i]);
    sum += i % 2 === 1 ? (digit * 2 > 9 ? digit * 2 - 9 : digit * 2) : digit;
  }
  return sum % 10 === 0;
}

/** The SIREN's Luhn check, as the CRD's CEL rule computes it. */
export function isValidSiren(siren: string): boolean {
  return /^[0-9]{9}$/.test(siren) && passesLuhn(siren);
}

/** The SIRET's Luhn check over its fourteen digits, as the CRD's CEL rule computes it. */
export function isValidSiret(siret: string): boolean {
  return /^[0-9]{14}$/.test(siret) && passesLuhn(siret);
}

/** The SIRET of the establishment numbered `establishment` (four digits) of this SIREN, with its check digit. */
export function siretWithCheckDigit(siren: string, establishment = "0001"): string {
  for (let check = 0; check <= 9; check++) {
    if (isValidSiret(`${siren}${establishment}${check}`)) return `${siren}${establishment}${check}`;
  }
  throw new Error(`"${siren}${establishment}" is not thirteen digits`);
}

/** The SIREN made of these eight digits and the check digit that makes it valid (for fixtures and benchmarks). */
export function sirenWithCheckDigit(eightDigits: string): string {
  for (let check = 0; check <= 9; check++) {
    if (isValidSiren(`${eightDigits}${check}`)) return `${eightDigits}${check}`;
  }
  throw new Error(`"${eightDigits}" is not eight digits`);
}

function describe(error: ErrorObject): string {
  const path = error.instancePath.replace(/^\//, "").replace(/\//g, ".") || "spec";
  if (error.keyword === "enum") {
    return `${path}: must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
  }
  return `${path}: ${error.message ?? "is invalid"}`;
}

function specValidator<T>(definition: ResourceDefinition, extra: (spec: T) => string[] = () => []) {
  let compiled: ValidateFunction | undefined;
  /** Returns a copy of `spec` with defaults filled in, or throws ValidationError listing every problem. */
  return (spec: unknown): T => {
    compiled ??= ajv.compile(definition.spec);
    const copy = structuredClone(spec);
    const problems = compiled(copy) ? extra(copy as T) : (compiled.errors ?? []).map(describe);
    if (problems.length > 0) throw new ValidationError(definition.kind, problems);
    return copy as T;
  };
}

/** What the API server's CEL rule `printable` refuses, said the same way. */
// eslint-disable-next-line no-control-regex -- control characters are what it finds
const controlCharacters = /[\u0000-\u001f\u007f]/;

export const validateCollectivitySpec = specValidator<CollectivitySpec>(collectivity, (spec) => [
  ...(controlCharacters.test(spec.displayName) ? ["displayName: must not contain control characters (line breaks, tabs…)"] : []),
  ...(isValidSiren(spec.siren) ? [] : ["siren: this is not a valid SIREN: its check digit (Luhn) does not match"]),
  ...(spec.actes?.siret !== undefined && !isValidSiret(spec.actes.siret) ? ["actes.siret: this is not a valid SIRET: its check digit (Luhn) does not match"] : []),
  ...(spec.actes?.siret !== undefined && !spec.actes.siret.startsWith(spec.siren) ? ["actes.siret: must begin with the collectivity's SIREN (spec.siren)"] : []),
  ...[...(spec.administrators?.users ?? []), ...(spec.administrators?.groups ?? [])]
    .filter((name) => name.startsWith("system:"))
    .map((name) => `administrators: ${name}: system: names are the cluster's own, never a collectivity's administrators`),
]);
export const validateServiceInstanceSpec = specValidator<ServiceInstanceSpec>(serviceInstance, (spec) =>
  spec.settings && Buffer.byteLength(JSON.stringify(spec.settings)) > maxSettingsBytes ? [`settings: must hold at most ${maxSettingsBytes} bytes (as JSON)`] : [],
);
export const validateSecureShareSpec = specValidator<SecureShareSpec>(secureShare, (spec) => [
  ...spec.recipients.filter((r) => r.name && controlCharacters.test(r.name)).map((r) => `recipients: ${r.email}: name: must not contain control characters (line breaks, tabs…)`),
  ...(spec.passwordSecretRef && ((platformSecrets as readonly string[]).includes(spec.passwordSecretRef.name) || spec.passwordSecretRef.name.endsWith("-links"))
    ? ["passwordSecretRef.name: names a Secret the platform manages (nats-credentials, database, <share>-links): name a Secret of your own"]
    : []),
]);

/**
 * The département of a public body, read from its SIREN (21/22/23/24/25 + two département
 * digits for communes, départements, régions, EPCI and syndicats); 000 when it cannot be read.
 */
export function departementOf(siren: string): string {
  return /^2[1-5][0-9]{2}/.test(siren) ? `0${siren.slice(2, 4)}` : "000";
}
