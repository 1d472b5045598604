import { allow, Conflict, NotFound, Repository, roles, tenantEndpoint, type Database, type EndpointSpec, type Role, type UserCaller } from "@mutualis/service-kit";
import { z } from "zod";
import type { Account, AccountRepository } from "./accounts.ts";

interface AuditEntry {
  at: Date;
  collectivity: string;
  actor: string;
  action: "invite" | "grant" | "revoke" | "deactivate";
  target: string;
  roles?: Role[];
}

/** Every change an administrator makes to memberships: who, when, to whom. */
export class MembershipAudit extends Repository<AuditEntry> {
  constructor(database: Database) {
    super(database, "membership_audit");
  }
  async record(entry: AuditEntry): Promise<void> {
    await this.collection.insertOne(entry);
  }
  list(collectivity: string): Promise<AuditEntry[]> {
    return this.collection.find({ collectivity }, { projection: { _id: 0 } }).sort({ at: -1 }).limit(500).toArray();
  }
}

function memberView(account: Account, collectivity: string) {
  const membership = account.memberships.find((m) => m.collectivity === collectivity);
  return {
    subject: account._id,
    email: account.email,
    givenName: account.givenName,
    usualName: account.usualName,
    roles: membership?.roles ?? [],
    active: account.active && !membership?.deactivatedAt,
    lastSignInAt: account.lastSignInAt?.toISOString() ?? null,
  };
}

const roleList = z.array(z.enum(roles)).max(roles.length);
const subject = z.object({ subject: z.uuid() });

/**
 * A collectivity's administrators manage its members (`tenant.<collectivity>.identity.members.*`,
 * through the gateway): never another collectivity's, and never leaving it without an administrator.
 */
export function memberEndpoints(accounts: AccountRepository, audit: MembershipAudit, now: () => Date = () => new Date()): EndpointSpec[] {
  const administrators = allow.roles("administrateur");
  const memberOf = async (collectivity: string, id: string) => {
    const account = await accounts.findById(id);
    if (!account?.memberships.some((m) => m.collectivity === collectivity)) throw new NotFound(`no member ${id} in collectivity ${collectivity}`);
    return account;
  };
  const keepsAnAdministrator = async (collectivity: string, changed: string, nextRoles: readonly Role[]) => {
    if (nextRoles.includes("administrateur")) return;
    const others = (await accounts.membersOf(collectivity)).filter(
      (a) => a._id !== changed && a.active && a.memberships.some((m) => m.collectivity === collectivity && !m.deactivatedAt && m.roles.includes("administrateur")),
    );
    if (others.length === 0) throw new Conflict(`collectivity ${collectivity} would be left without an administrator`);
  };
  const actor = (caller: UserCaller | { kind: "client"; client: string }) => (caller.kind === "user" ? caller.email : caller.client);
  return [
    tenantEndpoint({
      name: "members-list",
      subject: "tenant.*.identity.members.list",
      callers: administrators,
      schema: z.unknown(),
      handle: async (_request, { collectivity }) => (await accounts.membersOf(collectivity)).map((a) => memberView(a, collectivity)),
    }),
    tenantEndpoint({
      name: "members-invite",
      subject: "tenant.*.identity.members.invite",
      callers: administrators,
      schema: z.object({ email: z.email().max(254), givenName: z.string().min(1).max(100), usualName: z.string().min(1).max(100), roles: roleList.default(["agent"]) }),
      handle: async (request, { collectivity, caller }) => {
        const existing = await accounts.findByEmail(request.email);
        if (existing?.kind === "company") throw new Conflict(`${request.email} is a company user's address`);
        if (existing?.memberships.some((m) => m.collectivity === collectivity)) throw new Conflict(`${request.email} is a member already`);
        // An invited agent signs in through ProConnect (matched by address) or sets a password later.
        const account = existing ?? (await accounts.create({ kind: "agent", email: request.email, givenName: request.givenName, usualName: request.usualName, emailVerified: true }));
        const updated = await accounts.setMembership(account._id, collectivity, request.roles);
        await audit.record({ at: now(), collectivity, actor: actor(caller), action: "invite", target: updated.email, roles: request.roles });
        return memberView(updated, collectivity);
      },
    }),
    tenantEndpoint({
      name: "members-grant",
      subject: "tenant.*.identity.members.grant",
      callers: administrators,
      schema: subject.extend({ roles: roleList }),
      handle: async ({ subject: id, roles: granted }, { collectivity, caller }) => {
        await memberOf(collectivity, id);
        await keepsAnAdministrator(collectivity, id, granted);
        const updated = await accounts.setMembership(id, collectivity, granted);
        await audit.record({ at: now(), collectivity, actor: actor(caller), action: "grant", target: updated.email, roles: granted });
        return memberView(updated, collectivity);
      },
    }),
    tenantEndpoint({
      name: "members-revoke",
      subject: "tenant.*.identity.members.revoke",
      callers: administrators,
      schema: subject,
      handle: async ({ subject: id }, { collectivity, caller }) => {
        const account = await memberOf(collectivity, id);
        await keepsAnAdministrator(collectivity, id, []);
        await accounts.removeMembership(id, collectivity);
        await audit.record({ at: now(), collectivity, actor: actor(caller), action: "revoke", target: account.email });
        return { revoked: account.email };
      },
    }),
    tenantEndpoint({
      name: "members-deactivate",
      subject: "tenant.*.identity.members.deactivate",
      callers: administrators,
      schema: subject,
      handle: async ({ subject: id }, { collectivity, caller }) => {
        await memberOf(collectivity, id);
        await keepsAnAdministrator(collectivity, id, []);
        const updated = await accounts.deactivateMembership(id, collectivity, now());
        await audit.record({ at: now(), collectivity, actor: actor(caller), action: "deactivate", target: updated.email });
        return memberView(updated, collectivity);
      },
    }),
    tenantEndpoint({
      name: "members-audit",
      subject: "tenant.*.identity.members.audit",
      callers: administrators,
      schema: z.unknown(),
      handle: async (_request, { collectivity }) => (await audit.list(collectivity)).map((e) => ({ ...e, at: e.at.toISOString() })),
    }),
  ];
}
