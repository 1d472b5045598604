import { baseSettings } from "@mutualis/service-kit";
import { z } from "zod";

export const observatorySettings = baseSettings.extend({
  /** Prometheus's HTTP API, which scrapes the services' business metrics. */
  OBSERVATORY_PROMETHEUS_URL: z.url(),
  /** The region the platform serves, in the pages' titles. */
  OBSERVATORY_REGION: z.string().min(1).default("Bretagne"),
  /** How far back indicators look, in days. */
  OBSERVATORY_WINDOW_DAYS: z.coerce.number().int().min(1).max(365).default(30),
});

export type ObservatorySettings = z.infer<typeof observatorySettings>;
