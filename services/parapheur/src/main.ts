#!/usr/bin/env -S npx tsx
/** The parapheur's process. */
import { serviceMain } from "@mutualis/service-kit";
import { parapheurService, parapheurSettings } from "./service.ts";

await serviceMain("parapheur", parapheurService(), parapheurSettings);
