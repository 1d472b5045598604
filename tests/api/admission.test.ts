import { execFileSync } from "node:child_process";
import { ApiException, KubernetesObjectApi, PatchStrategy, type KubernetesObject } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningOperator } from "@mutualis/operator";
import { collectivityManifest, deleteCollectivity, startTestOperator } from "../support/operator.ts";
import { eventually, testPlatform } from "../support/platform.ts";

const platform = testPlatform();
const kc = platform.kubeConfig();
const api = KubernetesObjectApi.makeApiClient(kc);
let operator: RunningOperator;

/** The API server's message when it refuses `object`, or "accepted" (a dry run: nothing is stored). */
async function admission(object: KubernetesObject): Promise<string> {
  try {
    await api.create(object, undefined, "All");
    return "accepted";
  } catch (error) {
    if (error instanceof ApiException) return String((JSON.parse(error.body as string) as { message: string }).message);
    throw error;
  }
}

const valid = { name: "admission-ok", siren: "213502388" };

describe("admission of Mutualis resources", () => {
  beforeAll(async () => {
    // The operator installs the hosting-zone policy at start.
    operator = await startTestOperator({ leaderElection: false });
  });
  afterAll(async () => {
    await deleteCollectivity(kc, "admission-immutable");
    await operator.stop();
  });

  it("when a Collectivity is valid, then it is accepted", async () => {
    expect(await admission(collectivityManifest(valid))).toBe("accepted");
  });

  it.each([
    ["a SIREN of 8 digits", { siren: "21350238" }, "a SIREN is exactly 9 digits"],
    ["a SIREN whose check digit is wrong", { siren: "213502389" }, "its check digit (Luhn) does not match"],
    ["an unknown category", { category: "village" }, 'spec.category: Unsupported value: "village": supported values: "commune", "epci"'],
    ["a quota that is not a quantity", { quota: { cpu: "lots" } }, "spec.quota.cpu: Invalid value: \"lots\": must be a Kubernetes quantity"],
    ["a zero memory quota", { quota: { memory: "0" } }, "spec.quota.memory: Invalid value: \"0\": must be greater than zero"],
    ["an unknown deletion policy", { deletionPolicy: "Drop" }, 'spec.deletionPolicy: Unsupported value: "Drop": supported values: "Retain", "Delete"'],
    ["a negative population", { population: -4 }, "spec.population: Invalid value: -4: spec.population in body should be greater than or equal to 0"],
    ["a line break in its name", { displayName: "Ville de Rennes\nAdministrateur : oui" }, "Administrateur : oui\": must not contain control characters (line breaks, tabs…)"],
    ["a control character in its name", { displayName: "Rennes\u001b[31m" }, "must not contain control characters"],
    ["a system: administrator", { administrators: { users: ["system:admin"] } }, "system: names are the cluster's own"],
    ["a département of two digits for @ctes", { actes: { departement: "35", arrondissement: 3, nature: "31" } }, "spec.actes.departement: Invalid value"],
    ["an arrondissement of two digits", { actes: { departement: "035", arrondissement: 12, nature: "31" } }, "spec.actes.arrondissement: Invalid value: 12"],
    ["an @ctes nature of one digit", { actes: { departement: "035", arrondissement: 3, nature: "1" } }, 'spec.actes.nature: Unsupported value: "1"'],
    ["no @ctes nature", { actes: { departement: "035", arrondissement: 3 } }, "spec.actes.nature: Required value"],
    ["a SIRET of 13 digits", { actes: { departement: "035", arrondissement: 3, nature: "31", siret: "2135023880001" } }, "a SIRET is exactly 14 digits"],
    ["a SIRET whose check digit is wrong", { actes: { departement: "035", arrondissement: 3, nature: "31", siret: "21350238800018" } }, "this is not a valid SIRET: its check digit (Luhn) does not match"],
    ["the SIRET of another SIREN", { actes: { departement: "029", arrondissement: 1, nature: "31", siret: "21290019500018" } }, "spec.actes.siret must begin with the collectivity's SIREN"],
  ])("when a Collectivity has %s, then it is refused saying so", async (_case, change, message) => {
    expect(await admission(collectivityManifest({ ...valid, ...change }))).toContain(message);
  });

  it("when a Collectivity names a zone the platform does not have, then the zone policy refuses it listing the known zones", async () => {
    // The API server takes a moment to load a newly installed admission policy.
    const message = await eventually("the zone policy to be in force", async () => {
      const answer = await admission(collectivityManifest({ ...valid, zone: "fr-bzh-9z" }));
      return answer === "accepted" ? undefined : answer;
    });
    expect(message).toContain("spec.zone: fr-bzh-9z is not a hosting zone of this platform; known zones:");
    expect(message).toContain("fr-bzh-1a");
  });

  it("when a Collectivity's name has a dot, then it is refused with the rule for names", async () => {
    expect(await admission(collectivityManifest({ ...valid, name: "saint.malo" }))).toContain(
      "the name must be lower-case letters, digits and '-'",
    );
  });

  it("when a Collectivity's SIREN is changed, then the change is refused", async () => {
    await api.create(collectivityManifest({ ...valid, name: "admission-immutable" }));
    const change = api.patch(
      { apiVersion: "mutualis.fr/v1alpha1", kind: "Collectivity", metadata: { name: "admission-immutable" }, spec: { siren: "212900195" } } as KubernetesObject,
      undefined,
      undefined,
      undefined,
      undefined,
      PatchStrategy.MergePatch,
    );
    await expect(change).rejects.toMatchObject({ body: expect.stringContaining("the SIREN of a collectivity cannot change") });
  });

  it.each([
    ["an unknown service", { service: "bingo" }, 'spec.service: Unsupported value: "bingo": supported values: "actes", "helios"'],
    ["replicas on a shared instance", { service: "actes", replicas: 2 }, "replicas can only be set when tenancy is dedicated"],
    ["an unknown plan", { service: "actes", plan: "huge" }, 'spec.plan: Unsupported value: "huge"'],
    [
      "33 settings",
      { service: "sesf", settings: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`s${i}`, 1])) },
      "spec.settings: Too many: 33: must have at most 32 items",
    ],
  ])("when a ServiceInstance has %s, then it is refused saying so", async (_case, spec, message) => {
    expect(await admission({ apiVersion: "mutualis.fr/v1alpha1", kind: "ServiceInstance", metadata: { name: "si", namespace: "default" }, spec } as KubernetesObject)).toContain(message);
  });

  it.each([
    ["no recipient", { recipients: [] }, "spec.recipients: Invalid value"],
    ["a recipient without an e-mail address", { recipients: [{ email: "mairie" }] }, "must be an e-mail address"],
    ["the same recipient twice", { recipients: [{ email: "a@b.fr" }, { email: "a@b.fr" }] }, "Duplicate value"],
    ["an expiry of 90 days", { recipients: [{ email: "a@b.fr" }], expiryDays: 90 }, "spec.expiryDays in body should be less than or equal to 30"],
    ["a recipient's name with a line break", { recipients: [{ email: "a@b.fr", name: "Titulaire\r\nBcc: x@y.fr" }] }, "must not contain control characters"],
    ["its password in the tenant's database Secret", { recipients: [{ email: "a@b.fr" }], passwordSecretRef: { name: "database", key: "MONGODB_URI" } }, "names a Secret the platform manages"],
    ["its password in the NATS credentials", { recipients: [{ email: "a@b.fr" }], passwordSecretRef: { name: "nats-credentials" } }, "names a Secret the platform manages"],
    ["its password in another share's links", { recipients: [{ email: "a@b.fr" }], passwordSecretRef: { name: "marche-voirie-links" } }, "name a Secret of your own"],
  ])("when a SecureShare has %s, then it is refused saying so", async (_case, spec, message) => {
    expect(await admission({ apiVersion: "mutualis.fr/v1alpha1", kind: "SecureShare", metadata: { name: "share", namespace: "default" }, spec } as KubernetesObject)).toContain(message);
  });

  it("when kubectl lists the mutualis category, then Collectivities are listed with their printer columns", async () => {
    const output = execFileSync(`${platform.config.binDir}/kubectl`, ["--kubeconfig", platform.env.KUBECONFIG, "get", "mutualis"], { encoding: "utf8" });
    expect(output).toMatch(/NAME\s+SIREN\s+CATEGORY\s+ZONE\s+READY\s+AGE/);
    expect(output).toContain("collectivity.mutualis.fr/admission-immutable");
  });

  it("when kubectl explains a field, then the schema's description is shown", () => {
    const output = execFileSync(`${platform.config.binDir}/kubectl`, ["--kubeconfig", platform.env.KUBECONFIG, "explain", "coll.spec.deletionPolicy"], { encoding: "utf8" });
    expect(output).toContain("Retain keeps it, Delete drops it");
  });
});
