#!/usr/bin/env -S npx tsx
/** The actes service's process. */
import { serviceMain } from "@mutualis/service-kit";
import { actesService } from "./service.ts";
import { actesSettings } from "./settings.ts";

await serviceMain("actes", actesService(), actesSettings);
