import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAccount, ensureOperatorIdentity, layout, pushAccountJwt, restart, signAccount, userCreds } from "@mutualis/local-platform";
import type { RunningService } from "@mutualis/service-kit";
import { startTestIdentity, type TestIdentity } from "../support/identity.ts";
import { eventually, testPlatform } from "../support/platform.ts";
import { startSharedActes, startTestGateway } from "../support/services.ts";

const platform = testPlatform();
const run = `faults${Date.now().toString(36)}`;
const pdf = (text: string) => Buffer.from(`%PDF-1.7\n% ${text}\n%%EOF\n`).toString("base64");

interface Act {
  id: string;
  numeroInterne: string;
  status: string;
}

/**
 * A stream of acts submitted through the gateway while a part of the platform restarts. The
 * collectivity's software does what a client must: it sends an act again until the platform
 * answers, and takes "already submitted" (409, the same internal number) as done.
 */
describe("faults: acts submitted through the gateway while NATS, FerretDB, PostgreSQL or the API server restarts", () => {
  let identity: TestIdentity;
  let services: RunningService[] = [];
  let gatewayService: RunningService;
  let nc: NatsConnection;
  let token: string;

  beforeAll(async () => {
    // An account of its own, as actes' own tests do: the services, the gateway and the test share it.
    const natsOperator = await ensureOperatorIdentity(layout(platform.config).nats);
    const account = createAccount();
    const system = await platform.systemNats();
    await pushAccountJwt(system, await signAccount(natsOperator, `faults-${run}`, account));
    await system.close();
    const creds = join(mkdtempSync(join(tmpdir(), "faults-")), "services.creds");
    writeFileSync(creds, await userCreds("services", account), { mode: 0o600 });
    identity = await startTestIdentity(creds, `${run}_identity`, []);
    services = await startSharedActes(creds, run, identity.verifierSettings);
    gatewayService = await startTestGateway(creds, run, identity.verifierSettings);
    nc = await connect({ servers: platform.env.NATS_URL, authenticator: credsAuthenticator(await userCreds("caller", account)), maxReconnectAttempts: -1 });
    await nc.request("platform.actes.tenants.enable", JSON.stringify({ collectivity: "rennes", siren: "213502388", departement: "035", displayName: "Rennes", authority: { departement: "035", arrondissement: 3, nature: "31" } }), { timeout: 5000 });
    token = await identity.tokenFor("agent@rennes.example", { rennes: ["agent"] });
  }, 120_000);

  afterAll(async () => {
    await gatewayService?.stop();
    for (const service of services.reverse()) await service.stop();
    await identity?.stop();
    await nc?.close();
  });

  /** Submits until the platform takes it (201) or says it has it already (409); any other refusal fails at once. */
  async function submit(numeroInterne: string): Promise<void> {
    const deadline = Date.now() + 120_000;
    let last = "";
    while (Date.now() < deadline) {
      const res = await fetch(`${gatewayService.url}/api/v1/tenants/rennes/actes/submit`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({
          numeroInterne,
          nature: 1,
          classification: "7.1",
          objet: `Délibération ${numeroInterne}`,
          date: "2026-11-20",
          document: { fileName: "deliberation.pdf", mimeType: "application/pdf", contentBase64: pdf(numeroInterne) },
        }),
        signal: AbortSignal.timeout(15_000),
      }).catch((error: unknown) => void (last = String(error)));
      if (res) last = `${res.status} ${await res.text()}`;
      if (res && (res.status < 300 || res.status === 409)) return;
      if (res?.status === 401) token = await identity.tokenFor("agent@rennes.example", { rennes: ["agent"] });
      else if (res && res.status < 500 && res.status !== 429) throw new Error(`act ${numeroInterne} refused: ${last}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`act ${numeroInterne} was never taken; last answer: ${last}`);
  }

  async function acts(): Promise<Act[]> {
    const res = await fetch(`${gatewayService.url}/api/v1/tenants/rennes/actes/list`, { headers: { authorization: `Bearer ${token}` } });
    return res.ok ? ((await res.json()) as Act[]) : [];
  }

  for (const component of ["nats", "ferretdb", "postgresql", "kube-apiserver"]) {
    it(`when ${component} restarts during the stream, then every act reaches exactly one final status, none lost, none sent twice to the prefecture`, async () => {
      const numbers = Array.from({ length: 12 }, (_, i) => `F_${component.slice(0, 4).toUpperCase()}_${i}`);
      const submitted = (async () => {
        for (const [i, numero] of numbers.entries()) {
          await submit(numero);
          if (i < numbers.length - 1) await new Promise((resolve) => setTimeout(resolve, 150));
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, 500));
      await restart(platform.config, component);
      await submitted;

      const ours = await eventually("every act to reach its final status", async () => {
        const listed = (await acts()).filter((a) => numbers.includes(a.numeroInterne));
        return listed.length === numbers.length && listed.every((a) => a.status === "acknowledged") ? listed : undefined;
      }, 120_000);
      expect(ours.map((a) => a.numeroInterne).sort()).toEqual([...numbers].sort());
      const mongo = await new MongoClient(platform.env.MONGODB_URI).connect();
      try {
        for (const act of ours) expect(await mongo.db(`${run}_prefecture`).collection("transmissions").countDocuments({ _id: act.id as never })).toBe(1);
      } finally {
        await mongo.close();
      }
    });
  }
});
