import { describe, expect, it } from "vitest";
import { managedRole, newDatabaseRole, roleConnectionUri } from "./databases.ts";

describe("roleConnectionUri", () => {
  it("gives the role's name and password, its database and PLAIN over the platform's TLS, without the operator's CA path", () => {
    const uri = roleConnectionUri(
      "mongodb://mutualis_admin:s3cret@127.0.0.1:16017/?directConnection=true&tls=true&tlsCAFile=%2Fsrv%2Fca.crt&authMechanism=PLAIN&authSource=%24external",
      "coll_rennes",
      { user: "t_0123456789abcdef01234567", password: "p@ss/word" },
    );
    expect(uri).toBe(
      "mongodb://t_0123456789abcdef01234567:p%40ss%2Fword@127.0.0.1:16017/coll_rennes?directConnection=true&tls=true&authMechanism=PLAIN&authSource=%24external",
    );
  });
});

describe("newDatabaseRole", () => {
  it("names a role no one can guess, which the operator recognises as its own", () => {
    const a = newDatabaseRole("tenant");
    const b = newDatabaseRole("service");
    expect(a.user).toMatch(/^t_[0-9a-f]{24}$/);
    expect(b.user).toMatch(/^s_[0-9a-f]{24}$/);
    expect(a.user).not.toBe(newDatabaseRole("tenant").user);
    expect(managedRole.test(a.user) && managedRole.test(b.user)).toBe(true);
    expect(managedRole.test("mutualis_admin")).toBe(false);
  });
});
