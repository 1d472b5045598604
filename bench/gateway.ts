/**
 * Benchmark: an authenticated request through the gateway to a service that reads from the
 * database (GET …/actes/list: JWT check, NATS request, tenant check, a query), against the
 * floor of a plain NATS request/reply whose responder makes the same database read, from the
 * same client, in the same run; and the same gateway verifying tokens (the platform's issuer's
 * keys, signature, type, audience, expiry) against a second one that takes the token's claims
 * without checking them, to show what verification costs. Reports requests per second and
 * p50/p99 latency.
 *
 * Runs on a platform of its own (.local/bench-gateway, ports +4000), started and stopped here.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { MongoClient } from "mongodb";
import { actesService, actesSettings } from "@mutualis/actes";
import { gateway, gatewaySettings } from "@mutualis/gateway";
import { demoToken, down, platformEnv } from "@mutualis/local-platform";
import { prefectureSimulator, simulatorSettings } from "@mutualis/prefecture-simulator";
import { loadSettings, RunningService, type Caller, type Role } from "@mutualis/service-kit";
import { decodeJwt } from "jose";
import { benchIdentity, benchServicesAccount, freshBenchPlatform, measureLoad, type LoadResult } from "./support.ts";

const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
const seconds = Number(process.env.BENCH_SECONDS ?? 10);

async function measure(call: () => Promise<void>): Promise<LoadResult> {
  const load = await measureLoad(call, { concurrency, seconds, warmup: 200 });
  return { ...load, perSecond: Math.round(load.perSecond) };
}

async function main(): Promise<void> {
  const config = await freshBenchPlatform(".local/bench-gateway", "4000");
  const env = platformEnv(config);
  const services: RunningService[] = [];
  let client: NatsConnection | undefined;
  let floorResponder: NatsConnection | undefined;
  const mongo = await new MongoClient(env.MONGODB_URI).connect();
  try {
    const { credsFile, connectAs } = await benchServicesAccount(config);
    services.push(await benchIdentity(config, credsFile));
    // Every service verifies its callers' tokens with the platform's identity service.
    const common = { HTTP_PORT: "0", HTTP_INTERNAL_PORT: "0", HTTP_HOST: "127.0.0.1", NATS_URL: env.NATS_URL, NATS_CREDS_FILE: credsFile, MONGODB_URI: env.MONGODB_URI, LOG_LEVEL: "error", IDENTITY_ISSUER: env.IDENTITY_ISSUER, IDENTITY_CA_FILE: env.IDENTITY_CA_FILE };
    services.push(await new RunningService(prefectureSimulator(), loadSettings(simulatorSettings, { ...common, SERVICE_NAME: "prefecture-simulator", MONGODB_DATABASE: "prefecture" })).start());
    services.push(await new RunningService(actesService(), loadSettings(actesSettings, { ...common, SERVICE_NAME: "actes", MONGODB_DATABASE: "actes" })).start());
    const gatewayService = await new RunningService(gateway(), loadSettings(gatewaySettings, { ...common, SERVICE_NAME: "gateway", MONGODB_DATABASE: "gateway", KUBECONFIG: env.KUBECONFIG })).start();
    services.push(gatewayService);

    client = await connectAs("bench");
    await client.request("platform.actes.tenants.enable", JSON.stringify({ collectivity: "rennes", siren: "213502388", departement: "035", displayName: "Rennes", authority: { departement: "035", arrondissement: 3, nature: "31" } }), { timeout: 5000 });
    const token = await demoToken(config, "agent@ville-rennes.example");
    const asAgent = { headers: natsHeaders() };
    asAgent.headers.set("Authorization", `Bearer ${token}`);
    const pdf = Buffer.from("%PDF-1.7\n%%EOF\n").toString("base64");
    for (let i = 0; i < 20; i++) {
      await client.request(
        "tenant.rennes.actes.submit",
        JSON.stringify({ numeroInterne: `B${i}`, nature: 1, classification: "1.1", objet: "Bench", date: "2026-11-20", document: { fileName: "a.pdf", mimeType: "application/pdf", contentBase64: pdf } }),
        { timeout: 10_000, ...asAgent },
      );
    }

    // The floor: a bare responder doing the same read, no framework, no authentication.
    floorResponder = await connectAs("floor");
    const acts = mongo.db("actes").collection("acts");
    floorResponder.subscribe("floor.actes.list", {
      callback: (_error, msg) => {
        void acts
          .find({ collectivity: "rennes" })
          .sort({ submittedAt: -1 })
          .limit(100)
          .toArray()
          .then((items) => msg.respond(JSON.stringify(items)));
      },
    });
    await floorResponder.flush();
    const nats = client;
    console.log(`bench: floor — NATS request/reply with the same database read, ${concurrency} at a time for ${seconds}s`);
    const floor = await measure(async () => {
      await nats.request("floor.actes.list", "", { timeout: 10_000 });
    });
    const url = `${gatewayService.url}/api/v1/tenants/rennes/actes/list`;
    console.log(`bench: gateway — GET ${url.replace(gatewayService.url, "")}, ${concurrency} at a time for ${seconds}s`);
    const through = await measure(async () => {
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      if (res.status !== 200) throw new Error(`gateway answered ${res.status}`);
      await res.arrayBuffer();
    });
    // The same gateway, but trusting the token's claims unchecked: what the verification costs.
    const unchecked = { verify: async (authorization?: string): Promise<Caller> => {
      const claims = decodeJwt(authorization!.slice("Bearer ".length)) as { sub: string; email: string; memberships: Record<string, Role[]> };
      return { kind: "user", subject: claims.sub, email: claims.email, memberships: claims.memberships };
    } };
    const uncheckedGateway = await new RunningService(gateway({ verifier: unchecked }), loadSettings(gatewaySettings, { ...common, SERVICE_NAME: "gateway-unchecked", MONGODB_DATABASE: "gateway", KUBECONFIG: env.KUBECONFIG })).start();
    services.push(uncheckedGateway);
    const uncheckedUrl = `${uncheckedGateway.url}/api/v1/tenants/rennes/actes/list`;
    console.log(`bench: gateway without verifying the token — same request, ${concurrency} at a time for ${seconds}s`);
    const unverified = await measure(async () => {
      const res = await fetch(uncheckedUrl, { headers: { authorization: `Bearer ${token}` } });
      if (res.status !== 200) throw new Error(`gateway answered ${res.status}`);
      await res.arrayBuffer();
    });
    const result = {
      concurrency,
      seconds,
      floor,
      gateway: through,
      gatewayWithoutVerification: unverified,
      throughputRatio: Number((floor.perSecond / through.perSecond).toFixed(2)),
      p50Ratio: Number((through.p50 / floor.p50).toFixed(2)),
      verificationThroughputRatio: Number((unverified.perSecond / through.perSecond).toFixed(2)),
      verificationP99Ratio: Number((through.p99 / unverified.p99).toFixed(2)),
    };
    const results = join(config.root, ".local", "bench-results");
    mkdirSync(results, { recursive: true });
    writeFileSync(join(results, "gateway.json"), JSON.stringify(result, null, 2) + "\n");
    console.log("");
    console.log(`Gateway, list of 20 acts, concurrency ${concurrency}:`);
    console.log(`  floor (NATS request + same DB read): ${floor.perSecond} req/s, p50 ${floor.p50} ms, p99 ${floor.p99} ms`);
    console.log(`  through the gateway (JWT, HTTP, NATS, service, DB): ${through.perSecond} req/s, p50 ${through.p50} ms, p99 ${through.p99} ms`);
    console.log(`  through the gateway, token not verified: ${unverified.perSecond} req/s, p50 ${unverified.p50} ms, p99 ${unverified.p99} ms`);
    console.log(`  the floor serves ${result.throughputRatio}× the gateway's rate; gateway p50 is ${result.p50Ratio}× the floor's`);
    console.log(`  without verification the gateway serves ${result.verificationThroughputRatio}× its rate with it; its p99 with verification is ${result.verificationP99Ratio}× the one without`);
  } finally {
    await floorResponder?.close();
    await client?.close();
    for (const service of services.reverse()) await service.stop();
    await mongo.close();
    await down(config);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
