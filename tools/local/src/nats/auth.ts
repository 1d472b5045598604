import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeAccount, encodeOperator, encodeUser, fmtCreds, type Account, type User } from "@nats-io/jwt";
import { createAccount, createOperator, createUser, fromSeed, type KeyPair } from "@nats-io/nkeys";

/**
 * NATS runs in operator (decentralised JWT) mode: the platform holds an operator key, accounts
 * are JWTs signed by it and pushed to the server's resolver at run time, and users are JWTs
 * signed by their account. Nothing here needs a server restart to add a tenant.
 */
export interface OperatorIdentity {
  readonly operator: KeyPair;
  readonly operatorJwt: string;
  readonly systemAccount: KeyPair;
  readonly systemAccountJwt: string;
  /** Credentials of the system-account user that pushes account JWTs to the resolver. */
  readonly systemUserCreds: Uint8Array;
}

/**
 * nats-server reads a limit missing from an account JWT as zero (no connections at all), so
 * every account states its limits; -1 means no limit beyond the server's own.
 */
export const unlimitedAccount: NonNullable<Account["limits"]> = {
  subs: -1,
  data: -1,
  payload: -1,
  imports: -1,
  exports: -1,
  wildcards: true,
  conn: -1,
  leaf: -1,
};

/** JetStream on, no per-account storage cap beyond the server's own. */
export const unlimitedJetStream: NonNullable<Account["limits"]> = {
  mem_storage: -1,
  disk_storage: -1,
  streams: -1,
  consumer: -1,
};

function readOrCreateSeed(file: string, create: () => KeyPair): KeyPair {
  if (existsSync(file)) return fromSeed(readFileSync(file));
  const key = create();
  writeFileSync(file, key.getSeed(), { mode: 0o600 });
  return key;
}

/**
 * Loads the operator and system account kept in `dir`, creating them on first use. The seeds
 * stay on disk (mode 0600) so the same operator signs accounts across restarts.
 */
export async function ensureOperatorIdentity(dir: string, operatorName = "mutualis-local"): Promise<OperatorIdentity> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const operator = readOrCreateSeed(join(dir, "operator.nk"), createOperator);
  const systemAccount = readOrCreateSeed(join(dir, "system-account.nk"), createAccount);
  const systemUser = readOrCreateSeed(join(dir, "system-user.nk"), createUser);
  const operatorJwt = await encodeOperator(operatorName, operator, {
    system_account: systemAccount.getPublicKey(),
  });
  // The system account never has JetStream.
  const systemAccountJwt = await encodeAccount("SYS", systemAccount, { limits: unlimitedAccount }, { signer: operator });
  const systemUserJwt = await encodeUser("sys", systemUser, systemAccount);
  const systemUserCreds = fmtCreds(systemUserJwt, systemUser);
  writeFileSync(join(dir, "system-user.creds"), systemUserCreds, { mode: 0o600 });
  chmodSync(join(dir, "system-user.creds"), 0o600);
  return { operator, operatorJwt, systemAccount, systemAccountJwt, systemUserCreds };
}

/** Signs an account JWT with the operator key. No limits and JetStream on, unless `claims.limits` say otherwise. */
export async function signAccount(
  identity: Pick<OperatorIdentity, "operator">,
  name: string,
  account: KeyPair,
  claims: Partial<Account> = {},
): Promise<string> {
  return encodeAccount(
    name,
    account,
    { ...claims, limits: { ...unlimitedAccount, ...unlimitedJetStream, ...claims.limits } },
    { signer: identity.operator },
  );
}

/** Creates a user of `account` and returns its creds file contents. */
export async function userCreds(
  name: string,
  account: KeyPair,
  permissions: Partial<User> = {},
  user: KeyPair = createUser(),
): Promise<Uint8Array> {
  const jwt = await encodeUser(name, user, account, permissions);
  return fmtCreds(jwt, user);
}

export { createAccount, createUser, fromSeed, type KeyPair };
