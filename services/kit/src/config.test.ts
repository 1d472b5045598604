import { describe, expect, it } from "vitest";
import { z } from "zod";
import { baseSettings, loadSettings } from "./config.ts";
import { ConfigError } from "./errors.ts";

const env = { SERVICE_NAME: "actes", NATS_URL: "nats://127.0.0.1:4222", MONGODB_URI: "mongodb://127.0.0.1:27017" };

describe("loadSettings", () => {
  it("when the environment is complete, then defaults fill the rest", () => {
    expect(loadSettings(baseSettings, env)).toMatchObject({ SERVICE_NAME: "actes", HTTP_PORT: 8080, LOG_LEVEL: "info", HTTP_BODY_LIMIT: "1mb" });
  });

  it("when settings are missing or wrong, then every one is named, and no value is shown", () => {
    const attempt = () => loadSettings(baseSettings, { SERVICE_NAME: "actes", NATS_URL: "http://secret-host", HTTP_PORT: "99999" });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(/MONGODB_URI is required/);
    expect(attempt).toThrow(/NATS_URL: must be a nats:\/\/, tls:\/\/ or ws\(s\):\/\/ URL/);
    expect(attempt).toThrow(/HTTP_PORT: /);
    expect(attempt).not.toThrow(/secret-host/);
  });

  it("when a service extends the schema, then its own settings are checked too", () => {
    const schema = baseSettings.extend({ MAX_ACT_BYTES: z.coerce.number().int().positive() });
    expect(() => loadSettings(schema, { ...env, MAX_ACT_BYTES: "-3" })).toThrow(/MAX_ACT_BYTES: /);
    expect(loadSettings(schema, { ...env, MAX_ACT_BYTES: "150000000" }).MAX_ACT_BYTES).toBe(150_000_000);
  });
});
