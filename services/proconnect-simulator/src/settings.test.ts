import { ConfigError, loadSettings } from "@mutualis/service-kit";
import { describe, expect, it } from "vitest";
import { proconnectSettings } from "./settings.ts";

const client = { client_id: "portail", client_secret: "tres-secret-a-ne-jamais-journaliser", redirect_uris: ["https://portail.test/callback"] };
const settingsOf = (env: Record<string, string>) => loadSettings(proconnectSettings, { PROCONNECT_CLIENTS: JSON.stringify([client]), ...env });
const problemOf = (env: Record<string, string>) => {
  try {
    settingsOf(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("the settings were accepted");
};

describe("the simulator's settings", () => {
  it("when only the clients are given, then the default agents of Ville de Rennes and Rennes Métropole are offered, signed with RS256", () => {
    const settings = settingsOf({});
    expect(settings.PROCONNECT_USERS.map((agent) => agent.siret)).toEqual(["21350238800019", "21350238800019", "24350013900189"]);
    expect(settings.PROCONNECT_CLIENTS[0]).toMatchObject({ client_id: "portail", post_logout_redirect_uris: [], signing_alg: "RS256" });
    expect(settings).toMatchObject({ SERVICE_NAME: "proconnect-simulator", HTTP_PORT: 8080, PROCONNECT_TRUST_PROXY: false });
  });

  it("when users are given as JSON, then they replace the defaults and idp_id defaults to the simulated provider's", () => {
    const agent = { email: "lena.kerjean@quimper.bzh", given_name: "Léna", usual_name: "Kerjean", uid: "q-1", siret: "21290232500018" };
    const settings = settingsOf({ PROCONNECT_USERS: JSON.stringify([agent]) });
    expect(settings.PROCONNECT_USERS).toEqual([{ ...agent, idp_id: "5f3c1b6e-8d2a-4c7e-9b1f-2a6d4e8c0b13" }]);
  });

  it("when PROCONNECT_CLIENTS is not JSON, then the setting is named and its text (which holds secrets) is not shown", () => {
    const message = problemOf({ PROCONNECT_CLIENTS: `[{"client_secret":"tres-secret-a-ne-jamais-journaliser"` });
    expect(message).toContain("PROCONNECT_CLIENTS: must be JSON");
    expect(message).not.toContain("tres-secret");
  });

  it("when PROCONNECT_CLIENTS is missing, then it is named as required", () => {
    expect(loadSettings.bind(undefined, proconnectSettings, {})).toThrow("PROCONNECT_CLIENTS is required");
  });

  it("when two clients share a client_id, then it is refused", () => {
    expect(problemOf({ PROCONNECT_CLIENTS: JSON.stringify([client, client]) })).toContain("client_id portail appears twice");
  });

  it("when a client's redirect_uris are on two hosts, then it is refused (its pairwise sub needs one)", () => {
    const twoHosts = { ...client, redirect_uris: ["https://portail.test/callback", "https://autre.test/callback"] };
    expect(problemOf({ PROCONNECT_CLIENTS: JSON.stringify([twoHosts]) })).toContain("redirect_uris must all be on one host");
  });

  it("when a SIRET is not 14 digits, then the agent's field is named", () => {
    const agent = { email: "a@b.fr", given_name: "A", usual_name: "B", uid: "1", siret: "213502388" };
    expect(problemOf({ PROCONNECT_USERS: JSON.stringify([agent]) })).toContain("PROCONNECT_USERS.0.siret: must be 14 digits");
  });

  it("when a certificate is given without its key, then it is refused", () => {
    expect(problemOf({ PROCONNECT_TLS_CERT_FILE: "/run/tls/tls.crt" })).toContain("PROCONNECT_TLS_CERT_FILE and PROCONNECT_TLS_KEY_FILE go together");
  });

  it("when the public URL has a path, then it is refused; when it ends with a slash, then the origin is kept", () => {
    expect(problemOf({ PROCONNECT_PUBLIC_URL: "https://proconnect.test/api/v2" })).toContain("PROCONNECT_PUBLIC_URL: must be an origin");
    expect(settingsOf({ PROCONNECT_PUBLIC_URL: "https://proconnect.test/" }).PROCONNECT_PUBLIC_URL).toBe("https://proconnect.test");
  });
});
