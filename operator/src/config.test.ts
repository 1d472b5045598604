import { describe, expect, it } from "vitest";
import { loadOperatorConfig, portOf } from "./config.ts";

const base = { MUTUALIS_ZONES: "fr-bzh-1a", NATS_URL: "nats://127.0.0.1:16222", MONGODB_URI: "mongodb://127.0.0.1:16017/?directConnection=true", DATABASE_ADMIN_URL: "postgres://mutualis_admin:pw@127.0.0.1:16032/mutualis", NATS_SYSTEM_CREDS: "/dev/null", NATS_OPERATOR_SEED_FILE: "/dev/null" };

describe("the ports tenants' network policies open", () => {
  it("when nothing says otherwise, then they are the ports of the NATS and database URLs", () => {
    expect(loadOperatorConfig(base)).toMatchObject({ natsPortForPolicies: 16222, databasePortForPolicies: 16017 });
  });

  it("when a URL names no port or several hosts, then the protocol's default applies; an explicit setting wins", () => {
    expect(portOf("nats://nats", 4222)).toBe(4222);
    expect(portOf("mongodb://a:1,b:2/", 27017)).toBe(27017);
    expect(portOf("mongodb://user:secret@db:27018/x", 27017)).toBe(27018);
    expect(loadOperatorConfig({ ...base, MUTUALIS_NATS_PORT: "4222" }).natsPortForPolicies).toBe(4222);
  });

  it("when the NATS cluster has three nodes, then dedicated deployments' streams get three copies; one by default, and a bad number is refused", () => {
    expect(loadOperatorConfig(base).natsStreamReplicas).toBe(1);
    expect(loadOperatorConfig({ ...base, MUTUALIS_NATS_STREAM_REPLICAS: "3" }).natsStreamReplicas).toBe(3);
    expect(() => loadOperatorConfig({ ...base, MUTUALIS_NATS_STREAM_REPLICAS: "7" })).toThrow(/MUTUALIS_NATS_STREAM_REPLICAS/);
  });
});

describe("the database address", () => {
  it.each([
    ["mongodb+srv://mutualis_admin:hunter2-x@cluster.example/", /MONGODB_URI: the database address must be mongodb:\/\//],
    ["mongodb://mutualis_admin:hunter2-x@a:27017,b:27017/", /MONGODB_URI: .*several servers/],
    ["mongodb://mutualis_admin:hunter2-x@db/?authMechanism=SCRAM-SHA-1", /MONGODB_URI: .*PLAIN, not SCRAM-SHA-1/],
  ])("when it is %s, then the operator does not start, says why, and never shows the password", (uri, reason) => {
    let error: Error | undefined;
    try {
      loadOperatorConfig({ ...base, MONGODB_URI: uri });
    } catch (caught) {
      error = caught as Error;
    }
    expect(error?.message).toMatch(reason);
    expect(error?.message).not.toContain("hunter2-x");
  });
});
