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
  /** Uploads a link may have in progress at once (chunked sessions and single requests). */
  SESF_MAX_OPEN_UPLOADS: z.coerce.number().int().positive().default(4),
  /** Bytes the uploads in progress on one share may reserve on the volume (at least one file's limit). */
  SESF_MAX_RESERVED_BYTES: z.coerce.number().int().positive().default(8 * 1024 * 1024 * 1024),
  /** A chunked upload with no chunk for this long is abandoned, and its reservation freed. */
  SESF_UPLOAD_IDLE_HOURS: z.coerce.number().positive().default(24),
  /** Wrong passwords a link or an address may send before it must wait (1 s, then doubling). */
  SESF_PASSWORD_FREE_FAILURES: z.coerce.number().int().nonnegative().default(3),
  /** Wrong passwords after which a link is locked until its sender gives a new one. */
  SESF_PASSWORD_LOCK_AFTER: z.coerce.number().int().positive().default(20),
  /** How often expired shares are purged and idle uploads abandoned. */
  SESF_SWEEP_SECONDS: z.coerce.number().positive().default(30),
});

export type SesfSettings = z.infer<typeof sesfSettings>;

/** What one collectivity may do with the exchange: its own limits, within the platform's. */
export interface Limits {
  fileBytes: number;
  filesPerShare: number;
  recipients: number;
  defaultExpiryDays: number;
  maxExpiryDays: number;
  /** Uploads in progress at once on one share. */
  openUploads: number;
  /** Bytes the uploads in progress on one share may reserve. */
  reservedBytes: number;
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
  const fileBytes = s.maxFileBytes ?? platform.SESF_MAX_FILE_BYTES;
  return {
    fileBytes,
    filesPerShare: s.maxFilesPerShare ?? platform.SESF_MAX_FILES,
    recipients: s.maxRecipients ?? platform.SESF_MAX_RECIPIENTS,
    defaultExpiryDays: Math.min(s.defaultExpiryDays ?? platform.SESF_DEFAULT_EXPIRY_DAYS, maxExpiryDays),
    maxExpiryDays,
    openUploads: platform.SESF_MAX_OPEN_UPLOADS,
    reservedBytes: Math.max(platform.SESF_MAX_RESERVED_BYTES, fileBytes),
  };
}
