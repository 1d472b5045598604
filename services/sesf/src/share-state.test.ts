import { describe, expect, it } from "vitest";
import { endedMessage, expiryOnClose, stateAt, uploadRefusal, type ShareTimes } from "./share-state.ts";

const now = new Date("2026-11-30T10:00:00Z");
const before = new Date("2026-11-30T09:59:59Z");
const after = new Date("2026-11-30T10:00:01Z");

describe("a share's state at a moment", () => {
  const cases: { name: string; share: ShareTimes; state: string; upload: string | undefined }[] = [
    { name: "open, before its expiry", share: { state: "open", expiresAt: after }, state: "open", upload: undefined },
    { name: "open, at its expiry", share: { state: "open", expiresAt: now }, state: "expired", upload: "this share is expired: nothing more can be uploaded" },
    { name: "open, past its expiry", share: { state: "open", expiresAt: before }, state: "expired", upload: "this share is expired: nothing more can be uploaded" },
    { name: "revoked, before its expiry", share: { state: "revoked", expiresAt: after }, state: "revoked", upload: "this share is revoked: nothing more can be uploaded" },
    { name: "exhausted", share: { state: "exhausted", expiresAt: after }, state: "exhausted", upload: "this share is exhausted: nothing more can be uploaded" },
    { name: "uploads closed by the sender", share: { state: "open", expiresAt: after, uploadsClosedAt: before }, state: "open", upload: "uploads to this share are closed" },
    { name: "a voucher used by its guest", share: { state: "open", expiresAt: after, uploadsClosedAt: before, guest: {} }, state: "open", upload: "this invitation has been used: its files were sent" },
    { name: "a voucher past its upload window", share: { state: "open", expiresAt: after, uploadUntil: now, guest: {} }, state: "open", upload: "this invitation has expired" },
    { name: "a voucher within its upload window", share: { state: "open", expiresAt: after, uploadUntil: after, guest: {} }, state: "open", upload: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(stateAt(c.share, now)).toBe(c.state);
      expect(uploadRefusal(c.share, now)).toBe(c.upload);
    });
  }

  it("says why a link no longer opens", () => {
    expect(endedMessage("exhausted")).toBe("this share has been downloaded as many times as allowed; its content is deleted");
    expect(endedMessage("expired")).toBe("this share has expired; its content is deleted");
    expect(endedMessage("revoked")).toBe("this share has been withdrawn; its content is deleted");
  });

  it("keeps a voucher's content keepDays from the guest's closing", () => {
    expect(expiryOnClose({ expiresAt: after, keepDays: 2 }, now)).toEqual(new Date("2026-12-02T10:00:00Z"));
    expect(expiryOnClose({ expiresAt: after }, now)).toBe(after);
  });
});
