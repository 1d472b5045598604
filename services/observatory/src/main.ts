#!/usr/bin/env -S npx tsx
/** The observatory's process. */
import { serviceMain } from "@mutualis/service-kit";
import { observatoryService } from "./service.ts";
import { observatorySettings } from "./settings.ts";

await serviceMain("observatory", observatoryService(), observatorySettings);
