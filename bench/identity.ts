/**
 * Benchmark: complete sign-ins (authorization request, the sign-in form with its password check,
 * the redirects, the code for tokens) at the identity service with the seed's population in its
 * database — 7,000 agents of 300 collectivities and 30,000 users of 10,000 companies — against
 * the floor of the same oidc-provider keeping its sessions, codes and tokens in memory, same
 * accounts, same run. Reports sign-ins per second and p50/p99 latency.
 *
 * Runs on a platform of its own (.local/bench-identity, ports +5000), started and stopped here.
 */
import { randomUUID } from "node:crypto";
import { signInWithPassword } from "@mutualis/identity/client";
import { PasswordHasher } from "@mutualis/identity";
import { down, platformEnv } from "@mutualis/local-platform";
import { CallerVerifier, Database, type RunningService } from "@mutualis/service-kit";
import { benchIdentity, benchServicesAccount, freshBenchPlatform, measureLoad, saveResult } from "./support.ts";

const agents = Number(process.env.BENCH_AGENTS ?? 7_000);
const companyUsers = Number(process.env.BENCH_COMPANY_USERS ?? 30_000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 8);
const seconds = Number(process.env.BENCH_SECONDS ?? 15);
const password = "mot-de-passe-du-banc-d-essai";

/** A SIRET with a valid Luhn check digit, from 13 digits. */
function siret(thirteen: string): string {
  for (let check = 0; check < 10; check++) {
    const candidate = `${thirteen}${check}`;
    let sum = 0;
    for (let i = 0; i < 14; i++) {
      let digit = Number(candidate[13 - i]);
      if (i % 2 === 1) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
      sum += digit;
    }
    if (sum % 10 === 0) return candidate;
  }
  throw new Error("unreachable");
}

/** The population, written straight into the identity's database (one password hash for all: hashing 37,000 would take the hour). */
async function populate(uri: string): Promise<string[]> {
  const hash = await new PasswordHasher(2).hash(password);
  const store = await Database.connect(uri, "identity", "bench-identity");
  const emails: string[] = [];
  try {
    const accounts = store.collection("accounts");
    const addresses = store.collection<{ _id: string; accountId: string }>("account_emails");
    await accounts.createIndex({ email: 1 }, { unique: true });
    const batch: Record<string, unknown>[] = [];
    const flush = async () => {
      if (!batch.length) return;
      const accountsOf = batch.splice(0);
      // As AccountRepository.create writes them: the address's key first, then the account.
      await addresses.insertMany(accountsOf.map((a) => ({ _id: a.email as string, accountId: a._id as string })));
      await accounts.insertMany(accountsOf);
    };
    const base = { emailVerified: true, passwordHash: hash, active: true, createdAt: new Date() };
    for (let i = 0; i < agents; i++) {
      const email = `agent-${i}@commune-${i % 300}.bench`;
      emails.push(email);
      batch.push({ _id: randomUUID(), kind: "agent", email, givenName: "Agent", usualName: String(i), memberships: [{ collectivity: `commune-${i % 300}`, roles: i % 50 === 0 ? ["agent", "administrateur"] : ["agent"] }], ...base });
      if (batch.length === 1000) await flush();
    }
    for (let i = 0; i < companyUsers; i++) {
      const company = Math.floor(i / 3);
      const email = `user-${i}@entreprise-${company}.bench`;
      emails.push(email);
      batch.push({ _id: randomUUID(), kind: "company", email, givenName: "Utilisateur", usualName: String(i), memberships: [], company: { siret: siret(String(1_000_000_000_000 + company)), name: `Entreprise ${company}` }, ...base });
      if (batch.length === 1000) await flush();
    }
    await flush();
    console.log(`bench: ${await accounts.countDocuments()} accounts in the identity's database`);
  } finally {
    await store.close();
  }
  return emails;
}

interface Result {
  readonly signIns: number;
  readonly perSecond: number;
  readonly p50: number;
  readonly p99: number;
}

async function measure(issuer: string, caFile: string, emails: readonly string[]): Promise<Result> {
  const trusted = new CallerVerifier({ issuer, audience: "mutualis-api", caFile }).fetch;
  const signIn = async () => {
    const email = emails[Math.floor(Math.random() * emails.length)]!;
    await signInWithPassword({ issuer, clientId: "mutualis-cli", redirectUri: "http://127.0.0.1/callback", email, password, fetch: trusted });
  };
  const load = await measureLoad(signIn, { concurrency, seconds, warmup: 10, digits: 1 });
  return { signIns: load.requests, perSecond: Number(load.perSecond.toFixed(1)), p50: load.p50, p99: load.p99 };
}

async function main(): Promise<void> {
  const config = await freshBenchPlatform(".local/bench-identity", "5000");
  const env = platformEnv(config);
  let identity: RunningService | undefined;
  try {
    const { credsFile } = await benchServicesAccount(config);
    const emails = await populate(env.MONGODB_URI);
    console.log(`bench: floor — the same oidc-provider with its sessions, codes and tokens in memory, ${concurrency} at a time for ${seconds}s`);
    // Every sign-in comes from this machine: its per-address limit would stop the bench.
    const limits = { IDENTITY_ATTEMPTS_PER_MINUTE: "100000" };
    identity = await benchIdentity(config, credsFile, { ...limits, IDENTITY_STORE: "memory" });
    const floor = await measure(env.IDENTITY_ISSUER, env.IDENTITY_CA_FILE, emails);
    await identity.stop();
    console.log(`bench: the identity service — sessions, codes and tokens in the database, ${concurrency} at a time for ${seconds}s`);
    identity = await benchIdentity(config, credsFile, limits);
    const measured = await measure(env.IDENTITY_ISSUER, env.IDENTITY_CA_FILE, emails);
    const result = { agents, companyUsers, concurrency, seconds, floor, identity: measured, throughputRatio: Number((floor.perSecond / measured.perSecond).toFixed(2)), p99Ratio: Number((measured.p99 / floor.p99).toFixed(2)) };
    saveResult(config, "identity.json", result);
    console.log("");
    console.log(`Identity, complete sign-ins by password, ${agents} agents and ${companyUsers} company users, concurrency ${concurrency}:`);
    console.log(`  floor (oidc-provider in memory): ${floor.perSecond} sign-ins/s, p50 ${floor.p50} ms, p99 ${floor.p99} ms`);
    console.log(`  the identity service (database): ${measured.perSecond} sign-ins/s, p50 ${measured.p50} ms, p99 ${measured.p99} ms`);
    console.log(`  the floor signs in ${result.throughputRatio}× as many; the service's p99 is ${result.p99Ratio}× the floor's`);
  } finally {
    await identity?.stop();
    await down(config);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
