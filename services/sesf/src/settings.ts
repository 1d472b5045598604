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
});

export type SesfSettings = z.infer<typeof sesfSettings>;
