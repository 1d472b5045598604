#!/usr/bin/env -S npx tsx
/** The secure file exchange's process. */
import { serviceMain } from "@mutualis/service-kit";
import { sesfService } from "./service.ts";
import { sesfSettings } from "./settings.ts";

await serviceMain("sesf", sesfService(), sesfSettings);
