import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { currentCode } from "@mutualis/identity/client";
import { letterPdf } from "@mutualis/prefecture-simulator";
import { Kubectl } from "./cluster.ts";
import type { PlatformConfig } from "./config.ts";
import { demoToken } from "./identity.ts";
import { layout } from "./layout.ts";
import { platformEnv } from "./platform.ts";
import { StartError } from "./processes.ts";

type Say = (line: string) => void;

/** A call to the gateway with a person's token: its status and JSON body. */
export function gatewayCaller(config: PlatformConfig) {
  const env = platformEnv(config);
  return async <T = Record<string, unknown>>(method: string, path: string, bearer: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${env.GATEWAY_URL}${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as T };
  };
}

/** Asks for a shared service for the collectivity through the gateway, and waits until it is Ready. */
export async function askForService(config: PlatformConfig, collectivity: string, admin: string, service: string, tenancy: "shared" | "dedicated" = "shared"): Promise<void> {
  const created = await gatewayCaller(config)("POST", `/api/v1/tenants/${collectivity}/service-instances`, admin, { name: service, service, tenancy });
  if (created.status !== 201 && created.status !== 409) throw new StartError("demo", `the gateway answered ${created.status}: ${JSON.stringify(created.body)}`, "");
  const env = platformEnv(config);
  await new Kubectl(layout(config).bin("kubectl"), env.KUBECONFIG).run(["wait", "--for=condition=Ready", `serviceinstance/${service}`, "-n", `coll-${collectivity}`, "--timeout=120s"]);
}

/**
 * A délibération of Rennes from its draft to its publication: the administrator sets up the
 * desks, the circuit "Délibérations" (the general manager's visa, the finance deputy's signature,
 * the mayor's) and the flow (circuit → @ctes → publication); the mayor delegates her desk to her
 * first deputy for the week; an agent starts the délibération; the visa, the two signatures (the
 * second by delegation), each confirmed by the signer's authenticator application; the
 * prefecture's acknowledgement; the publication; the evidence bundle, checked with sha256sum and
 * openssl.
 */
export async function deliberationWalkthrough(config: PlatformConfig, say: Say): Promise<void> {
  const call = gatewayCaller(config);
  const demoDir = join(config.dir, "demo");
  mkdirSync(demoDir, { recursive: true });
  const token = (who: string) => demoToken(config, `${who}@ville-rennes.example`);
  const must = async <T>(what: string, reply: Promise<{ status: number; body: T }>, accepted: number[] = [200]): Promise<T> => {
    const { status, body } = await reply;
    if (!accepted.includes(status)) throw new StartError("demo", `${what} answered ${status}: ${JSON.stringify(body)}`, "");
    return body;
  };
  const api = (operation: string) => `/api/v1/tenants/rennes/${operation}`;
  say("");
  say("A délibération of Rennes goes through its circuit, to the prefecture and online…");
  const admin = await token("dsi");
  for (const service of ["parapheur", "flows"]) await askForService(config, "rennes", admin, service);
  say("  ✓ ServiceInstances coll-rennes/parapheur and coll-rennes/flows are Ready");
  const desks = [
    { id: "secretariat", name: "Secrétariat des assemblées", owners: ["agent@ville-rennes.example"] },
    { id: "dgs", name: "Direction générale des services", owners: ["dgs@ville-rennes.example"] },
    { id: "finances", name: "Adjointe aux finances", owners: ["finances@ville-rennes.example"] },
    { id: "adjoint", name: "Premier adjoint", owners: ["adjoint@ville-rennes.example"] },
    { id: "maire", name: "Maire", owners: ["maire@ville-rennes.example"] },
  ];
  for (const desk of desks) await must("saving a desk", call("POST", api("parapheur/desks.save"), admin, { desk }));
  const type = {
    id: "deliberation",
    name: "Délibération",
    protocol: "ACTES",
    signatureFormat: "PADES",
    subtypes: [{ id: "conseil", name: "Délibérations du conseil municipal", circuit: [{ type: "VISA", desks: ["dgs"] }, { type: "SIGNATURE", desks: ["finances"] }, { type: "SIGNATURE", desks: ["maire"] }] }],
  };
  await must("saving the circuit", call("POST", api("parapheur/types.save"), admin, { type }));
  for (const [who, commonName, title] of [
    ["finances", "Morgane Le Gall", "Adjointe aux finances"],
    ["adjoint", "Loïc Le Roux", "Premier adjoint"],
    ["maire", "Anne Kervella", "Maire"],
  ] as const) {
    await must("issuing a certificate", call("POST", api("parapheur/certificates.issue"), admin, { email: `${who}@ville-rennes.example`, commonName, title }), [200, 409]);
  }
  const flow = { kind: "deliberation", name: "Délibérations", nature: 1, classification: "7.1", steps: [{ service: "parapheur", type: "deliberation", subtype: "conseil", desk: "secretariat" }, { service: "actes" }, { service: "ipl" }] };
  await must("saving the flow", call("POST", api("flows/definitions.save"), admin, { flow }));
  say("  ✓ desks, the circuit « Délibérations » (visa, two signatures) and the flow circuit → @ctes → publication, saved by the administrator");
  const today = new Date();
  await must(
    "delegating the mayor's desk",
    call("POST", api("parapheur/desks.delegate"), await token("maire"), { desk: "maire", delegations: [{ to: "adjoint", from: new Date(today.getTime() - 3_600_000).toISOString(), until: new Date(today.getTime() + 7 * 86_400_000).toISOString() }] }),
  );
  say("  ✓ the mayor delegates her desk to her first deputy for the week");

  const numero = `DEMO_D${Date.now().toString(36).toUpperCase()}`.slice(0, 15);
  const pdf = letterPdf("Délibération du conseil municipal de Rennes", ["Objet : vote du budget primitif 2027.", "Le conseil municipal, après en avoir délibéré, adopte le budget primitif 2027."]);
  const agent = await token("agent");
  const started = await must(
    "starting the délibération",
    call<{ id: string }>("POST", api("flows/documents.start"), agent, { kind: "deliberation", numeroInterne: numero, objet: "Vote du budget primitif 2027", date: today.toISOString().slice(0, 10), document: { name: "deliberation.pdf", mimeType: "application/pdf", contentBase64: pdf.toString("base64") } }),
  );
  type Doc = { state: string; steps: { service: string; state: string; ref?: string; url?: string; reason?: string }[]; acknowledgement?: { identifier: string; acknowledgedOn?: string } };
  const document = () => must("reading the document", call<Doc>("POST", api("flows/documents.get"), agent, { id: started.id }));
  const until = async (what: string, done: (d: Doc) => boolean, seconds = 60): Promise<Doc> => {
    for (let i = 0; i < seconds * 4; i++) {
      const d = await document();
      if (done(d)) return d;
      if (d.state === "parked" || d.state === "rejected") throw new StartError("demo", `the délibération is ${d.state}: ${JSON.stringify(d.steps)}`, "");
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new StartError("demo", `${what} did not happen within ${seconds}s`, "");
  };
  const folder = (await until("the circuit to start", (d) => Boolean(d.steps[0]?.ref))).steps[0]!.ref!;
  say(`  ✓ délibération ${numero} started by an agent: folder ${folder} in the circuit`);
  await must("the visa", call("POST", api("parapheur/folders.visa"), await token("dgs"), { id: folder, comment: "Vu, conforme au vote." }));
  say("  ✓ visa of the general manager (dgs@ville-rennes.example)");
  for (const [who, label] of [
    ["finances", "signed by the finance deputy (finances@ville-rennes.example)"],
    ["adjoint", "signed for the mayor by her first deputy, through her delegation (adjoint@ville-rennes.example)"],
  ] as const) {
    const bearer = await token(who);
    const code = await authenticatorCode(demoDir, `${who}@ville-rennes.example`, async () => (await must("enrolling an authenticator", call<{ secret: string }>("POST", api("identity/second-factor.enrol"), bearer, {}))).secret);
    const confirmed = await must("the second factor", call<{ confirmation: string }>("POST", api("identity/second-factor.confirm"), bearer, { code, purpose: `parapheur.sign:${folder}` }));
    await must("the signature", call("POST", api("parapheur/folders.sign"), bearer, { id: folder, confirmation: confirmed.confirmation }));
    say(`  ✓ ${label}, after the code of their authenticator application (PAdES, the certificate of Rennes's own authority)`);
  }
  const acknowledged = await until("the prefecture's acknowledgement", (d) => d.steps[1]?.state === "done", 90);
  say(`  ✓ transmitted by @ctes and acknowledged by the prefecture: ${acknowledged.acknowledgement?.identifier ?? "?"} on ${acknowledged.acknowledgement?.acknowledgedOn ?? "?"}`);
  const published = await until("the publication", (d) => d.state === "done", 60);
  say(`  ✓ published, enforceable: ${published.steps[2]?.url ?? "?"}`);
  const evidence = await must("the evidence bundle", call<{ fileName: string; contentBase64: string }>("POST", api("parapheur/folders.evidence"), agent, { id: folder }));
  const bundleDir = join(demoDir, evidence.fileName.replace(/\.tar\.gz$/, ""));
  mkdirSync(bundleDir, { recursive: true });
  writeFileSync(join(bundleDir, evidence.fileName), Buffer.from(evidence.contentBase64, "base64"));
  execFileSync("tar", ["xzf", evidence.fileName], { cwd: bundleDir });
  const checked = execFileSync("sha256sum", ["-c", "empreintes.sha256"], { cwd: bundleDir, encoding: "utf8" }).trim().split("\n");
  execFileSync("openssl", ["cms", "-verify", "-binary", "-inform", "DER", "-in", "empreintes.sha256.p7s", "-content", "empreintes.sha256", "-CAfile", "autorite.pem", "-purpose", "any", "-out", "/dev/null"], { cwd: bundleDir, stdio: "pipe" });
  say(`  ✓ evidence bundle in ${relative(process.cwd(), bundleDir)}: ${checked.length} files whose hashes check (sha256sum -c), the list sealed by Rennes (openssl cms -verify); LISEZMOI.txt says how`);
}

/**
 * The current code of a demo person's authenticator application: its secret kept under
 * .local/demo (made by enrolling the first time), a time step not used before.
 */
async function authenticatorCode(dir: string, email: string, enrol: () => Promise<string>): Promise<string> {
  const file = join(dir, `authenticator-${email}.json`);
  const known = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { secret: string; step: number }) : { secret: await enrol(), step: 0 };
  let step = Math.floor(Date.now() / 30_000);
  if (step <= known.step) {
    await new Promise((r) => setTimeout(r, (known.step + 1) * 30_000 - Date.now() + 100));
    step = known.step + 1;
  }
  writeFileSync(file, JSON.stringify({ secret: known.secret, step }), { mode: 0o600 });
  return currentCode(known.secret, step * 30);
}
