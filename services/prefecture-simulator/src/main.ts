#!/usr/bin/env -S npx tsx
/** The prefecture simulator's process. */
import { serviceMain } from "@mutualis/service-kit";
import { prefectureSimulator, simulatorSettings } from "./service.ts";

await serviceMain("prefecture-simulator", prefectureSimulator(), simulatorSettings);
