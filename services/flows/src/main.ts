#!/usr/bin/env -S npx tsx
/** The flows' process. */
import { serviceMain } from "@mutualis/service-kit";
import { flowsService, flowsSettings } from "./service.ts";

await serviceMain("flows", flowsService(), flowsSettings);
