import { isAdministrator, type Caller } from "@mutualis/service-kit";

/**
 * Who made a share: the person (their identity's subject, and their address for the audit) or the
 * platform's software (the operator, for a SecureShare). Shares made before owners were recorded
 * have none: only the collectivity's administrators manage them.
 */
export interface ShareOwner {
  readonly subject?: string;
  readonly email?: string;
  readonly client?: string;
}

export function ownerOf(caller: Caller): ShareOwner {
  return caller.kind === "user" ? { subject: caller.subject, email: caller.email } : { client: caller.client };
}

/** Whether the caller made the share. */
export function owns(share: { readonly owner?: ShareOwner }, caller: Caller): boolean {
  const owner = share.owner;
  if (!owner) return false;
  return caller.kind === "user" ? owner.subject !== undefined && owner.subject === caller.subject : owner.client !== undefined && owner.client === caller.client;
}

/** An agent manages the shares they made; an administrator all of the collectivity's. */
export function mayManage(share: { readonly owner?: ShareOwner }, caller: Caller, collectivity: string): boolean {
  return owns(share, caller) || isAdministrator(caller, collectivity);
}

/** The database filter of the shares the caller sees in a list: their own, or all for an administrator. */
export function listedFor(caller: Caller, collectivity: string): Record<string, string> {
  if (isAdministrator(caller, collectivity)) return {};
  return caller.kind === "user" ? { "owner.subject": caller.subject } : { "owner.client": caller.client };
}
