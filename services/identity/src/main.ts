#!/usr/bin/env -S npx tsx
/** The identity service's process. */
import { serviceMain } from "@mutualis/service-kit";
import { identityService } from "./service.ts";
import { identitySettings } from "./settings.ts";

await serviceMain("identity", identityService(), identitySettings);
