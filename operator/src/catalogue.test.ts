import { describe, expect, it } from "vitest";
import { platformUsers } from "./catalogue.ts";
import { userPermissions } from "./tenancy/nats-accounts.ts";

const users = Object.entries(platformUsers);
/** Whether a NATS subject pattern covers a subject (`*` one token, `>` the rest). */
const covers = (pattern: string, subject: string): boolean => {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (p[i] !== "*" && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
};
const publishes = (user: string, subject: string) => platformUsers[user as keyof typeof platformUsers].publish.some((p) => covers(p, subject));

describe("the platform services account's users", () => {
  it("only the operator may call a service's platform subjects, which services trust on the subject alone", () => {
    expect(users.filter(([name]) => publishes(name, "platform.actes.tenants.enable")).map(([name]) => name)).toEqual(["operator"]);
  });

  it("only actes reaches the prefecture and queues transmissions; only the prefecture sends returns", () => {
    expect(users.filter(([name]) => publishes(name, "prefecture.actes.t-rennes.submit")).map(([name]) => name)).toEqual(["actes"]);
    expect(users.filter(([name]) => publishes(name, "actes.transmit.t-rennes")).map(([name]) => name)).toEqual(["actes"]);
    expect(users.filter(([name]) => publishes(name, "prefecture.actes.t-rennes.returns.a1")).map(([name]) => name)).toEqual(["prefecture-simulator"]);
  });

  it("no one may delete or purge a stream, or call the JetStream API at large", () => {
    for (const [name] of users) {
      for (const subject of ["$JS.API.STREAM.DELETE.MUTUALIS_EVENTS", "$JS.API.STREAM.PURGE.MUTUALIS_EVENTS", "$JS.API.STREAM.DELETE.ACTES_TRANSMISSIONS", "$JS.API.ACCOUNT.PURGE"]) {
        expect(publishes(name, subject), `${name} ${subject}`).toBe(false);
      }
    }
  });

  it("each user reads its own inbox only, and records only its own service's events", () => {
    for (const [name, permissions] of users) {
      expect(permissions.subscribe.filter((s) => s.startsWith("_INBOX."))).toEqual([`_INBOX.${name}.>`]);
      const events = permissions.publish.filter((p) => p.startsWith("events."));
      expect(events.every((p) => p === `events.*.${name}.*`), name).toBe(true);
    }
  });

  it("a responder answers once per request; a caller answers nothing", () => {
    expect(userPermissions(platformUsers.actes).resp).toEqual({ max: 1, ttl: 0 });
    expect(userPermissions(platformUsers.gateway).resp).toBeUndefined();
  });
});
