export { ACR_VALUES, API_PREFIX, LIFETIMES, MINIMUM_RANDOM_LENGTH, ROUTES, SCOPES } from "./contract.ts";
export { accountIdOf, claimsOf, pairwiseSubject } from "./provider.ts";
export { proconnectSimulator, ProConnectSimulator } from "./service.ts";
export {
  defaultAgents,
  proconnectSettings,
  relyingParty,
  SIMULATED_IDP_ID,
  testAgent,
  type ProConnectSettings,
  type RelyingParty,
  type TestAgent,
} from "./settings.ts";
