export * from "./crd.ts";
export * from "./dsl.ts";
export * from "./collectivity.ts";
export * from "./service-instance.ts";
export * from "./secure-share.ts";
import { collectivity } from "./collectivity.ts";
import { secureShare } from "./secure-share.ts";
import { serviceInstance } from "./service-instance.ts";

/** Every Mutualis resource, in the order their files are generated. */
export const resources = [collectivity, serviceInstance, secureShare] as const;
