/**
 * What the services image can run: each service's process, by the name the catalogue gives as
 * the image's first argument. Services the catalogue lists but this build does not have yet are
 * absent, and the entrypoint says so.
 */
export const imageServices: Readonly<Record<string, () => Promise<unknown>>> = {
  actes: () => import("@mutualis/actes/main"),
  flows: () => import("@mutualis/flows/main"),
  gateway: () => import("@mutualis/gateway/main"),
  identity: () => import("@mutualis/identity/main"),
  ipl: () => import("@mutualis/ipl/main"),
  // The operator ships in the same image: the Helm chart runs it with this argument.
  observatory: () => import("@mutualis/observatory/main"),
  operator: () => import("@mutualis/operator/main"),
  parapheur: () => import("@mutualis/parapheur/main"),
  portal: () => import("@mutualis/portal/main"),
  "prefecture-simulator": () => import("@mutualis/prefecture-simulator/main"),
  "proconnect-simulator": () => import("@mutualis/proconnect-simulator/main"),
  sesf: () => import("@mutualis/sesf/main"),
};

/** Exit code for an unknown service: a usage error (sysexits EX_USAGE). */
export const unknownServiceExitCode = 64;
