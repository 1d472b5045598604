import { baseSettings } from "@mutualis/service-kit";
import { z } from "zod";

export const portalSettings = baseSettings.extend({
  /** Where people's browsers reach the portal (its sign-in return is this plus /retour). */
  PORTAL_PUBLIC_URL: z.url().refine((url) => !url.endsWith("/"), "must not end with a slash"),
  /** The portal's client at the identity service (a confidential web client) and its secret, a mounted file. */
  PORTAL_CLIENT_ID: z.string().min(1).default("mutualis-portal"),
  PORTAL_CLIENT_SECRET_FILE: z.string().min(1),
  /** The gateway, which the portal calls with the person's token. */
  PORTAL_GATEWAY_URL: z.url(),
  /** How long a session lasts without the person coming back. */
  PORTAL_SESSION_SECONDS: z.coerce.number().int().min(60).default(8 * 3600),
});

export type PortalSettings = z.infer<typeof portalSettings>;
