import { createHash } from "node:crypto";

/** One entry of a share's audit trail; `hash` covers the entry and the previous entry's hash. */
export interface AuditEntry {
  shareId: string;
  seq: number;
  at: string;
  event:
    | "created"
    | "voucher-created"
    | "uploaded"
    | "uploads-closed"
    | "downloaded"
    | "recipients-changed"
    | "notified"
    | "revoked"
    | "expired"
    | "purged"
    | "exhausted"
    | "infected"
    | "password-locked";
  detail: Record<string, string | number>;
  prevHash: string;
  hash: string;
}

const genesis = "0".repeat(64);

/** Keys sorted at every level: the same entry always hashes the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

export function entryHash(entry: Omit<AuditEntry, "hash">): string {
  return createHash("sha256").update(canonical(entry)).digest("hex");
}

/** The next entry of a chain whose last entry is `previous`. */
export function chain(previous: AuditEntry | undefined, entry: Omit<AuditEntry, "seq" | "prevHash" | "hash">): AuditEntry {
  const unsealed = { ...entry, seq: (previous?.seq ?? 0) + 1, prevHash: previous?.hash ?? genesis };
  return { ...unsealed, hash: entryHash(unsealed) };
}

/** Checks a trail from its start: the first entry that was rewritten, removed or reordered, if any. */
export function verifyChain(entries: readonly AuditEntry[]): { valid: true } | { valid: false; brokenAt: number; reason: string } {
  let prevHash = genesis;
  for (const [i, entry] of entries.entries()) {
    const { hash, ...rest } = entry;
    if (entry.seq !== i + 1) return { valid: false, brokenAt: entry.seq, reason: `entry ${i + 1} is missing or out of order` };
    if (entry.prevHash !== prevHash) return { valid: false, brokenAt: entry.seq, reason: `entry ${entry.seq} does not follow entry ${i}` };
    if (entryHash(rest) !== hash) return { valid: false, brokenAt: entry.seq, reason: `entry ${entry.seq} was altered` };
    prevHash = hash;
  }
  return { valid: true };
}
