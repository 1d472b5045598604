#!/usr/bin/env -S npx tsx
/** `make token USER=… TENANT=… ROLE=…`: a token signed with the local platform's development key. */
import { join } from "node:path";
import { ensureDevKeys, mintDevToken } from "./dev-keys.ts";

const [user, collectivity, role, groups] = process.argv.slice(2);
if (!user || !collectivity) {
  console.error("usage: make token USER=<user> TENANT=<collectivity> [ROLE=agent] [GROUPS=a,b]");
  process.exit(2);
}
const dir = join(process.env.MUTUALIS_LOCAL_DIR ?? ".local", "gateway");
const { keyFile } = await ensureDevKeys(dir);
console.log(
  await mintDevToken(keyFile, {
    user,
    collectivity,
    roles: [role || "agent"],
    groups: groups ? groups.split(",") : [],
    issuer: "mutualis-local",
    audience: "mutualis-gateway",
  }),
);
