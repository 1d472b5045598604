import { readFileSync } from "node:fs";
import { roles, type Logger } from "@mutualis/service-kit";
import { z } from "zod";
import type { AccountRepository } from "./accounts.ts";
import type { PasswordHasher } from "./passwords.ts";

/** Accounts the platform team declares (the demo's people, the tests'): made once, never overwritten. */
const seedFile = z.object({
  accounts: z.array(
    z.object({
      kind: z.enum(["agent", "company"]),
      email: z.email(),
      givenName: z.string().min(1),
      usualName: z.string().min(1),
      password: z.string().min(12).optional(),
      memberships: z.array(z.object({ collectivity: z.string(), roles: z.array(z.enum(roles)) })).default([]),
      company: z.object({ siret: z.string().regex(/^[0-9]{14}$/), name: z.string() }).optional(),
    }),
  ),
});
export type SeedAccounts = z.input<typeof seedFile>;

export async function seedAccounts(file: string, accounts: AccountRepository, hasher: PasswordHasher, log: Logger): Promise<number> {
  const parsed = seedFile.safeParse(JSON.parse(readFileSync(file, "utf8")));
  if (!parsed.success) throw new Error(`IDENTITY_SEED_FILE is invalid: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  let made = 0;
  for (const { password, ...account } of parsed.data.accounts) {
    if (await accounts.findByEmail(account.email)) continue;
    await accounts.create({ ...account, emailVerified: true, ...(password ? { passwordHash: await hasher.hash(password) } : {}) });
    made += 1;
  }
  if (made > 0) log.info({ accounts: made }, "seed accounts made");
  return made;
}
