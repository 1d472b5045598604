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
