import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode, parseCreds, type Account, type User } from "@nats-io/jwt";
import { describe, expect, it } from "vitest";
import { createAccount, ensureOperatorIdentity, signAccount, userCreds } from "./auth.ts";

describe("NATS operator identity", () => {
  it("when loaded twice from the same directory, then the operator and system account are the same", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mutualis-nats-"));
    const first = await ensureOperatorIdentity(dir);
    const second = await ensureOperatorIdentity(dir);
    expect(second.operator.getPublicKey()).toBe(first.operator.getPublicKey());
    expect(second.systemAccount.getPublicKey()).toBe(first.systemAccount.getPublicKey());
    expect(statSync(join(dir, "operator.nk")).mode & 0o777).toBe(0o600);
    expect(decode<{ system_account: string }>(first.operatorJwt).nats.system_account).toBe(first.systemAccount.getPublicKey());
  });

  it("when an account is signed, then it is issued by the operator with explicit limits and JetStream on", async () => {
    const identity = await ensureOperatorIdentity(mkdtempSync(join(tmpdir(), "mutualis-nats-")));
    const account = createAccount();
    const claims = decode<Account>(await signAccount(identity, "coll-rennes", account));
    expect(claims.iss).toBe(identity.operator.getPublicKey());
    expect(claims.sub).toBe(account.getPublicKey());
    expect(claims.nats.limits).toMatchObject({ conn: -1, subs: -1, disk_storage: -1, streams: -1 });
  });

  it("when limits are given, then they override the defaults", async () => {
    const identity = await ensureOperatorIdentity(mkdtempSync(join(tmpdir(), "mutualis-nats-")));
    const claims = decode<Account>(await signAccount(identity, "small", createAccount(), { limits: { conn: 10 } }));
    expect(claims.nats.limits?.conn).toBe(10);
  });

  it("when user creds are made, then the user is issued by its account with the given permissions", async () => {
    const account = createAccount();
    const creds = await userCreds("agent", account, { pub: { allow: ["tenant.rennes.>"] } });
    const { jwt } = await parseCreds(creds);
    const claims = decode<User>(jwt);
    expect(claims.iss).toBe(account.getPublicKey());
    expect(claims.nats.pub?.allow).toEqual(["tenant.rennes.>"]);
  });
});
