#!/usr/bin/env -S npx tsx
/** The portal's process. */
import { serviceMain } from "@mutualis/service-kit";
import { portalService } from "./service.ts";
import { portalSettings } from "./settings.ts";

await serviceMain("portal", portalService(), portalSettings);
