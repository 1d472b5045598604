/**
 * What the identity's clients use (the command line, kubectl's credential plugin, the local
 * platform, the tests), without loading the provider itself.
 */
export { platformClients, type ClientMetadata } from "./clients.ts";
export { ensureKeysFile, loadKeys, rotateKeys, writeKeysFile } from "./keys.ts";
export { approveDevice, clientCredentials, refresh, signInWithPassword, SignInRefused, type SignInResult } from "./sign-in.ts";
export type { SeedAccounts } from "./seed.ts";
export { currentCode } from "./second-factor.ts";
