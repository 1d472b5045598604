import { baseSettings } from "@mutualis/service-kit";
import { z } from "zod";

export const sesfSettings = baseSettings.extend({
  /** Where the encrypted files are kept, one directory per collectivity and share. */
  SESF_STORAGE_DIR: z.string().min(1),
  /** A file holding the platform's master key (32 bytes, base64); collectivities' keys derive from it. */
  SESF_MASTER_KEY_FILE: z.string().min(1),
  /** The address recipients' and upload links start with. */
  SESF_PUBLIC_URL: z.url(),
  /** ClamAV's daemon (host:port); without it files are kept as "unscanned", and a warning is logged at start. */
  SESF_CLAMD_ADDRESS: z.string().regex(/^[^:]+:[0-9]+$/, "must be host:port").optional(),
  SESF_MAX_FILE_BYTES: z.coerce.number().int().positive().default(4 * 1024 * 1024 * 1024),
  SESF_MAX_FILES: z.coerce.number().int().positive().default(30),
  SESF_MAX_RECIPIENTS: z.coerce.number().int().positive().default(50),
  SESF_DEFAULT_EXPIRY_DAYS: z.coerce.number().int().positive().default(7),
  SESF_MAX_EXPIRY_DAYS: z.coerce.number().int().positive().default(30),
  /** The most one request of a chunked upload may carry; a failed chunk is sent again, not the file. */
  SESF_CHUNK_BYTES: z.coerce.number().int().positive().default(64 * 1024 * 1024),
});

export type SesfSettings = z.infer<typeof sesfSettings>;

/** What one collectivity may do with the exchange: its own limits, within the platform's. */
export interface Limits {
  fileBytes: number;
  filesPerShare: number;
  recipients: number;
  defaultExpiryDays: number;
  maxExpiryDays: number;
}

/**
 * The settings a collectivity may give SESF (its ServiceInstance's `spec.settings`): limits
 * lower than the platform's, never higher.
 */
export function tenantSettingsSchema(platform: SesfSettings) {
  const within = (ceiling: number, unit: string) =>
    z
      .number({ error: `must be a whole number of ${unit}` })
      .int(`must be a whole number of ${unit}`)
      .positive(`must be at least 1`)
      .max(ceiling, `must be at most ${ceiling} ${unit}, the platform's limit`)
      .optional();
  return z
    .object({
      maxFileBytes: within(platform.SESF_MAX_FILE_BYTES, "bytes"),
      maxFilesPerShare: within(platform.SESF_MAX_FILES, "files"),
      maxRecipients: within(platform.SESF_MAX_RECIPIENTS, "recipients"),
      defaultExpiryDays: within(platform.SESF_MAX_EXPIRY_DAYS, "days"),
      maxExpiryDays: within(platform.SESF_MAX_EXPIRY_DAYS, "days"),
    })
    .strict()
    .refine((s) => s.defaultExpiryDays === undefined || s.defaultExpiryDays <= (s.maxExpiryDays ?? platform.SESF_MAX_EXPIRY_DAYS), {
      message: "defaultExpiryDays must not be more than maxExpiryDays",
      path: ["defaultExpiryDays"],
    });
}

/** A collectivity's limits: its own settings where it gave them, else the platform's. */
export function limitsOf(platform: SesfSettings, own: Record<string, unknown> | undefined): Limits {
  const s = (own ?? {}) as { maxFileBytes?: number; maxFilesPerShare?: number; maxRecipients?: number; defaultExpiryDays?: number; maxExpiryDays?: number };
  const maxExpiryDays = s.maxExpiryDays ?? platform.SESF_MAX_EXPIRY_DAYS;
  return {
    fileBytes: s.maxFileBytes ?? platform.SESF_MAX_FILE_BYTES,
    filesPerShare: s.maxFilesPerShare ?? platform.SESF_MAX_FILES,
    recipients: s.maxRecipients ?? platform.SESF_MAX_RECIPIENTS,
    defaultExpiryDays: Math.min(s.defaultExpiryDays ?? platform.SESF_DEFAULT_EXPIRY_DAYS, maxExpiryDays),
    maxExpiryDays,
  };
}
