import { describe, expect, it } from "vitest";
import { ServiceCallError, ServiceClient } from "./service-client.ts";

describe("a platform service's failed answer", () => {
  it.each([
    [400, true, false],
    [413, true, false],
    [409, false, true],
    [503, false, false],
    [undefined, false, false],
  ])("when it is %s, then refused is %s and conflict %s", (code, refused, conflict) => {
    const error = new ServiceCallError("platform.sesf.tenants.enable", code, "maxFileBytes: must be at most 4294967296 bytes");
    expect(error.refused).toBe(refused);
    expect(error.conflict).toBe(conflict);
  });

  it("says the subject and what the service said, or that nothing answered", () => {
    expect(new ServiceCallError("platform.sesf.tenants.enable", 400, "maxFileBytes: too large").message).toBe("platform.sesf.tenants.enable answered 400: maxFileBytes: too large");
    expect(new ServiceCallError("platform.sesf.tenants.enable", undefined, "TIMEOUT").message).toBe("no answer on platform.sesf.tenants.enable: TIMEOUT");
  });

  it("when the operator has no platform identity, then a collectivity's endpoint is not called and the error says why", async () => {
    const client = new ServiceClient(() => undefined);
    await expect(client.tenant("rennes", "sesf", "shares.get", {})).rejects.toMatchObject({ name: "ServiceCallError", code: undefined, subject: "tenant.rennes.sesf.shares.get" });
    await expect(client.platform("sesf", "tenants.enable", {})).rejects.toThrow("no answer on platform.sesf.tenants.enable: the platform services account is not set up yet");
  });
});
