import { describe, expect, it } from "vitest";
import { loadSettings } from "@mutualis/service-kit";
import { limitsOf, sesfSettings, tenantSettingsSchema } from "./settings.ts";

const platform = loadSettings(sesfSettings, {
  SERVICE_NAME: "sesf",
  NATS_URL: "nats://127.0.0.1:4222",
  MONGODB_URI: "mongodb://127.0.0.1:27017",
  SESF_STORAGE_DIR: "/var/lib/sesf",
  SESF_MASTER_KEY_FILE: "/run/secrets/master.key",
  SESF_PUBLIC_URL: "https://echanges.mutualis.example",
});

describe("a collectivity's own SESF limits", () => {
  const schema = tenantSettingsSchema(platform);

  it("when none are given, then the platform's apply", () => {
    expect(limitsOf(platform, {})).toEqual({ fileBytes: 4 * 1024 ** 3, filesPerShare: 30, recipients: 50, defaultExpiryDays: 7, maxExpiryDays: 30, openUploads: 4, reservedBytes: 8 * 1024 ** 3 });
  });

  it("when lower limits are given, then they apply, and the default expiry never passes the maximum", () => {
    const own = schema.parse({ maxFileBytes: 500 * 1024 ** 2, maxRecipients: 5, maxExpiryDays: 3 });
    expect(limitsOf(platform, own)).toMatchObject({ fileBytes: 500 * 1024 ** 2, recipients: 5, defaultExpiryDays: 3, maxExpiryDays: 3 });
  });

  it("when a limit is above the platform's, not a whole number, or unknown, then each problem is named", () => {
    const result = schema.safeParse({ maxFileBytes: 2 ** 40, maxRecipients: 2.5, colour: "bleu" });
    expect(result.success).toBe(false);
    const messages = result.error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n");
    expect(messages).toContain("maxFileBytes: must be at most 4294967296 bytes, the platform's limit");
    expect(messages).toContain("maxRecipients: must be a whole number of recipients");
    expect(messages).toContain("colour");
  });

  it("when the default expiry is longer than the maximum, then it is refused", () => {
    expect(schema.safeParse({ defaultExpiryDays: 10, maxExpiryDays: 5 }).error?.issues[0]?.message).toBe("defaultExpiryDays must not be more than maxExpiryDays");
  });
});
