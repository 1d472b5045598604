import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { signingKeys } from "./keys.ts";

const directory = mkdtempSync(join(tmpdir(), "proconnect-keys-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
const fileWith = (name: string, content: string) => {
  const path = join(directory, name);
  writeFileSync(path, content);
  return path;
};

describe("the signing keys", () => {
  it("when no JWKS file is given, then one RS256 and one ES256 private key are made, each with its thumbprint as kid", async () => {
    const { keys } = await signingKeys();
    expect(keys.map((key) => [key.kty, key.alg, key.use])).toEqual([
      ["RSA", "RS256", "sig"],
      ["EC", "ES256", "sig"],
    ]);
    expect(keys.every((key) => typeof key.d === "string" && /^[A-Za-z0-9_-]{43}$/.test(key.kid ?? ""))).toBe(true);
  });

  it("when a private JWKS file is given, then its keys are used", async () => {
    const { keys } = await signingKeys();
    expect(await signingKeys(fileWith("jwks.json", JSON.stringify({ keys: [keys[0]] })))).toEqual({ keys: [keys[0]] });
  });

  it("when the file holds public keys only, then it is refused", async () => {
    const { keys } = await signingKeys();
    const { d: _private, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicKey } = keys[0]!;
    await expect(signingKeys(fileWith("public.json", JSON.stringify({ keys: [publicKey] })))).rejects.toThrow("PROCONNECT_JWKS_FILE: not a private JWKS (keys.0.d:");
  });

  it("when the file is not JSON, then the error quotes none of it", async () => {
    const error = await signingKeys(fileWith("broken.json", `{"keys":[{"d":"c2VjcmV0LWtleS1tYXRlcmlhbA"`)).then(
      () => undefined,
      (caught: unknown) => caught as Error,
    );
    expect(error?.message).toBe("PROCONNECT_JWKS_FILE: not JSON");
  });
});
