#!/usr/bin/env -S npx tsx
/** The gateway's process. */
import { serviceMain } from "@mutualis/service-kit";
import { gateway, gatewaySettings } from "./service.ts";

await serviceMain("gateway", gateway(), gatewaySettings);
