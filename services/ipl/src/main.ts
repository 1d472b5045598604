#!/usr/bin/env -S npx tsx
/** The publication service's process. */
import { serviceMain } from "@mutualis/service-kit";
import { iplService, iplSettings } from "./service.ts";

await serviceMain("ipl", iplService(), iplSettings);
