import { baseSettings } from "@mutualis/service-kit";
import { z } from "zod";

export const actesSettings = baseSettings.extend({
  /** Largest file accepted over NATS (the server's max_payload bounds it). */
  ACTES_MAX_FILE_BYTES: z.coerce.number().int().positive().default(6 * 1024 * 1024),
  /**
   * Subject prefix of the prefecture connector (the simulator locally, the TdT in production):
   * a collectivity's acts go to `<prefix>.<collectivity>.submit`, its returns come back on
   * `<prefix>.<collectivity>.returns.<act>`, so a dedicated deployment's account imports only its own.
   */
  PREFECTURE_SUBJECT: z.string().default("prefecture.actes"),
  /** The transmitter's three-letter code in archive names. */
  TRANSMITTER_TRIGRAM: z.string().regex(/^[0-9A-Z]{3}$/).default("MUT"),
  /**
   * The domain of the mailboxes where the prefecture's answers go, named in every envelope
   * (`actes-<collectivity>@<domain>`); @ctes's schema wants a suffix of 2 to 6 letters.
   */
  ACTES_RETURN_DOMAIN: z
    .string()
    .regex(/^[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)*\.[a-zA-Z]{2,6}$/, "must be a domain whose last label is 2 to 6 letters, as @ctes's schema wants")
    .default("mutualis.test"),
  /**
   * How long a collectivity's classification is used before the prefecture is asked again
   * (exchange 7-1) whether it changed; an acknowledgement naming a newer one asks at once.
   */
  ACTES_CLASSIFICATION_MAX_AGE_SECONDS: z.coerce.number().int().positive().default(86_400),
  /**
   * Publish every acknowledged act with the publication service (`ipl.<collectivity>.publish`):
   * on where the platform runs it.
   */
  ACTES_PUBLISH: z
    .enum(["true", "false"])
    .default("false")
    .transform((value) => value === "true"),
  /** Prefix of the JetStream streams (one platform may run several environments). */
  ACTES_STREAM_PREFIX: z.string().regex(/^[A-Z0-9_]+$/).default("ACTES"),
  /** How many acts are transmitted (or published) at once. */
  ACTES_TRANSMISSION_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  /** How long a stored act may wait for its queueing (NATS away) before it is queued again. */
  ACTES_REQUEUE_AFTER_SECONDS: z.coerce.number().positive().default(15),
  /**
   * The most the object store of the acts' files holds (the files uploaded in parts, to the 150 MB
   * @ctes allows an act); in a collectivity's account, at most its quota's share per stream.
   */
  ACTES_FILES_MAX_BYTES: z.coerce.number().int().positive().default(256 * 1024 * 1024),
  /** The most each flow's stream holds; a collectivity's account refuses streams without a maximum, or above its own. */
  ACTES_STREAM_MAX_BYTES: z.coerce.number().int().positive().default(256 * 1024 * 1024),
});

export type ActesSettings = z.infer<typeof actesSettings>;

/**
 * What a collectivity says of the service (its ServiceInstance's `spec.settings`): when its acts
 * are published, once the prefecture acknowledged them (the default) or as soon as they are
 * transmitted (they are then enforceable from the acknowledgement, which their page adds).
 */
export const actesTenantSettings = z
  .object({
    publication: z.enum(["acknowledged", "transmitted"]).default("acknowledged"),
  })
  .strict();

export type ActesTenantSettings = z.infer<typeof actesTenantSettings>;
