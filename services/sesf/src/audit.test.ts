import { describe, expect, it } from "vitest";
import { chain, verifyChain, type AuditEntry } from "./audit.ts";

function trail(): AuditEntry[] {
  const entries: AuditEntry[] = [];
  const add = (event: AuditEntry["event"], detail: AuditEntry["detail"]) => entries.push(chain(entries.at(-1), { shareId: "s", at: "2026-11-28T10:00:00Z", event, detail }));
  add("created", { recipients: 2 });
  add("uploaded", { file: "a.pdf", bytes: 10 });
  add("downloaded", { recipient: "x@mairie.fr", address: "192.0.2.1" });
  return entries;
}

describe("the audit chain", () => {
  it("when nothing was touched, then the chain verifies", () => {
    expect(verifyChain(trail())).toEqual({ valid: true });
  });

  it("when an entry is rewritten, removed or its hash recomputed alone, then the chain says where it breaks", () => {
    const rewritten = trail();
    rewritten[1]!.detail = { file: "b.pdf", bytes: 10 };
    expect(verifyChain(rewritten)).toMatchObject({ valid: false, brokenAt: 2, reason: "entry 2 was altered" });
    const removed = trail();
    removed.splice(1, 1);
    expect(verifyChain(removed)).toMatchObject({ valid: false, brokenAt: 3 });
    const resealed = trail();
    resealed[1] = chain(resealed[0], { shareId: "s", at: "2026-11-28T10:00:00Z", event: "uploaded", detail: { file: "evil.pdf", bytes: 1 } });
    expect(verifyChain(resealed)).toMatchObject({ valid: false, brokenAt: 3, reason: "entry 3 does not follow entry 2" });
  });
});
