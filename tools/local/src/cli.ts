#!/usr/bin/env -S npx tsx
/**
 * mutualis-local up|down|status|env|demo — the commands behind `make up`, `make down`,
 * `make status` and `make demo`.
 */
import { join, relative } from "node:path";
import { Kubectl } from "./cluster.ts";
import { layout } from "./layout.ts";
import { loadConfig, type PlatformConfig } from "./config.ts";
import { down, platformEnv, status, up } from "./platform.ts";
import { demoPeople, demoToken, rotateIdentityKeys } from "./identity.ts";
import { kubectlCredential, writeOidcKubeconfig } from "./kubectl-credential.ts";
import { hostingLot, installOperatorChart } from "./lot.ts";
import { StartError } from "./processes.ts";
import { askForService, deliberationWalkthrough, gatewayCaller } from "./demo-parapheur.ts";

const say = (line: string) => console.log(line);

async function printStatus(config: PlatformConfig): Promise<void> {
  const rows = await status(config);
  const width = Math.max(...rows.map((r) => r.name.length));
  for (const row of rows) {
    const state = row.ready ? "ready" : row.pid ? "running, not ready" : "stopped";
    const pid = row.pid ? `pid ${row.pid}` : "";
    say(`  ${row.name.padEnd(width)}  ${state.padEnd(18)}  ${pid.padEnd(10)}  ${row.endpoint}`);
  }
  const readyCount = rows.filter((r) => r.ready).length;
  say(`${readyCount}/${rows.length} components ready; logs in ${relative(process.cwd(), config.dir) || "."}/logs/`);
}

/** Applies examples/collectivities and waits until the operator has made each one a Ready tenant. */
async function applyExamples(config: PlatformConfig): Promise<void> {
  const kubectl = new Kubectl(layout(config).bin("kubectl"), platformEnv(config).KUBECONFIG);
  say("");
  say("Applying examples/collectivities (real Breton authorities) and waiting for their tenants…");
  await kubectl.run(["apply", "--server-side", "-f", join(config.root, "examples/collectivities")]);
  await kubectl.run(["wait", "--for=condition=Ready", "collectivities", "--all", "--timeout=180s"]);
  say(await kubectl.run(["get", "collectivities", "-o", "wide"]));
  // Rennes and Rennes Métropole use the identity service: their agents arriving through ProConnect join them.
  for (const collectivity of ["rennes", "rennes-metropole"]) {
    const instance = { apiVersion: "mutualis.fr/v1alpha1", kind: "ServiceInstance", metadata: { name: "identity", namespace: `coll-${collectivity}` }, spec: { service: "identity" } };
    await kubectl.run(["apply", "--server-side", "--field-manager=mutualis-demo", "-f", "-"], JSON.stringify(instance));
  }
}

interface Walkthrough {
  readonly collectivity: string;
  readonly name: string;
  readonly admin: string;
  readonly agent: string;
  readonly tenancy: "shared" | "dedicated";
}

/**
 * A collectivity's administrator asks for the actes service through the gateway (shared, or its
 * own dedicated deployment, which the node agent runs as a process), then an agent submits a
 * délibération, which the simulated prefecture acknowledges.
 */
async function actesWalkthrough(config: PlatformConfig, walk: Walkthrough): Promise<void> {
  const env = platformEnv(config);
  const { collectivity } = walk;
  const token = (email: string) => demoToken(config, email);
  const call = gatewayCaller(config);
  say("");
  say(`${walk.name}'s administrator asks for ${walk.tenancy === "shared" ? "the shared actes service" : "its own dedicated actes deployment"} through the gateway…`);
  const admin = await token(walk.admin);
  await askForService(config, collectivity, admin, "actes", walk.tenancy);
  const kubectl = new Kubectl(layout(config).bin("kubectl"), env.KUBECONFIG);
  if (walk.tenancy === "shared") {
    say(`  ✓ ServiceInstance coll-${collectivity}/actes is Ready (its NATS account imports the shared service)`);
  } else {
    const pod = (await kubectl.run(["get", "pods", "-n", `coll-${collectivity}`, "-l", "app.kubernetes.io/instance=actes", "-o", "jsonpath={.items[0].metadata.name} on {.items[0].spec.nodeName} at {.items[0].status.podIP}"])).trim();
    say(`  ✓ ServiceInstance coll-${collectivity}/actes is Ready: pod ${pod}, a process run by the node agent`);
  }
  // Its acts are published once acknowledged: the publication service is a shared one.
  await askForService(config, collectivity, admin, "ipl");
  say(`  ✓ ServiceInstance coll-${collectivity}/ipl is Ready: its acts are published once acknowledged`);
  const agent = await token(walk.agent);
  const numero = `DEMO_${Date.now().toString(36).toUpperCase()}`.slice(0, 15);
  const act = await call("POST", `/api/v1/tenants/${collectivity}/actes/submit`, agent, {
    numeroInterne: numero,
    nature: 1,
    classification: "7.1",
    objet: "Vote du budget primitif 2027",
    date: new Date().toISOString().slice(0, 10),
    document: { fileName: "deliberation.pdf", mimeType: "application/pdf", contentBase64: Buffer.from("%PDF-1.7\n% démonstration\n%%EOF\n").toString("base64") },
  });
  if (act.status !== 200) throw new StartError("demo", `submitting an act answered ${act.status}: ${JSON.stringify(act.body)}`, "");
  let status = act.body;
  for (let i = 0; i < 60 && status.status !== "acknowledged"; i++) {
    await new Promise((r) => setTimeout(r, 250));
    status = (await call("GET", `/api/v1/tenants/${collectivity}/actes/get?id=${String(act.body.id)}`, agent)).body;
  }
  say(`  ✓ act ${numero} submitted by an agent: ${String(status.statusLabel)}, identifier ${String(status.identifier ?? "(pending)")}`);
  const exchanges = (status.exchanges as { direction: string; message: string; file: string }[] | undefined) ?? [];
  if (status.archive) say(`    sent to the prefecture as ${String(status.archive)} (@ctes tar.gz, ISO-8859-1 XML checked against the @ctes schema)`);
  for (const e of exchanges) say(`    ${e.direction === "sent" ? "→" : "←"} ${e.message} ${e.file}`);
  for (let i = 0; i < 60 && !status.publication; i++) {
    await new Promise((r) => setTimeout(r, 250));
    status = (await call("GET", `/api/v1/tenants/${collectivity}/actes/get?id=${String(act.body.id)}`, agent)).body;
  }
  const published = status.publication as { url?: string; skipped?: string } | undefined;
  say(published?.url ? `  ✓ published, enforceable: ${published.url}` : `  ✗ not published: ${published?.skipped ?? "the publication service has not answered yet"}`);
}

/**
 * Rennes's administrator asks for the secure file exchange, declares a SecureShare for a company,
 * uploads a file with the upload link the operator stored in a Secret, and the company downloads
 * it with its own link.
 */
async function secureShareWalkthrough(config: PlatformConfig): Promise<void> {
  const env = platformEnv(config);
  const kubectl = new Kubectl(layout(config).bin("kubectl"), env.KUBECONFIG);
  const admin = await demoToken(config, "dsi@ville-rennes.example");
  say("");
  say("Rennes sends the tender documents to a company through the secure file exchange…");
  const created = await fetch(`${env.GATEWAY_URL}/api/v1/tenants/rennes/service-instances`, {
    method: "POST",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "sesf", service: "sesf" }),
  });
  if (created.status !== 201 && created.status !== 409) throw new StartError("demo", `the gateway answered ${created.status}`, "");
  await kubectl.run(["wait", "--for=condition=Ready", "serviceinstance/sesf", "-n", "coll-rennes", "--timeout=120s"]);
  const share = {
    apiVersion: "mutualis.fr/v1alpha1",
    kind: "SecureShare",
    metadata: { name: "dce-voirie-2027", namespace: "coll-rennes" },
    spec: { description: "DCE du marché de voirie 2027", recipients: [{ email: "contact@entreprise-travaux.example", name: "Entreprise Travaux" }], expiryDays: 7, downloadLimit: 3 },
  };
  await kubectl.run(["apply", "--server-side", "--field-manager=mutualis-demo", "-f", "-"], JSON.stringify(share));
  await kubectl.run(["wait", "--for=condition=Ready", "secureshare/dce-voirie-2027", "-n", "coll-rennes", "--timeout=60s"]);
  const read = async (key: string) =>
    Buffer.from((await kubectl.run(["get", "secret", "dce-voirie-2027-links", "-n", "coll-rennes", "-o", `jsonpath={.data.${key.replaceAll(".", "\\.")}}`])).trim(), "base64").toString("utf8");
  const upload = await read("upload-url");
  const [link] = JSON.parse(await read("links.json")) as { url: string }[];
  const document = `%PDF-1.7\n% Règlement de consultation — démonstration ${new Date().toISOString()}\n%%EOF\n`;
  const put = await fetch(`${upload}/files/${encodeURIComponent("Règlement de consultation.pdf")}`, { method: "PUT", headers: { "content-type": "application/octet-stream" }, body: document });
  const file = (await put.json()) as { id: string; scan: string };
  say(`  ✓ SecureShare coll-rennes/dce-voirie-2027 is Ready; file uploaded (${put.status}), encrypted at rest, antivirus: ${file.scan}`);
  const got = await fetch(`${link!.url}/files/${file.id}`);
  const same = (await got.text()) === document;
  say(`  ✓ the company downloaded it with its own link (${got.status}${same ? ", identical bytes" : ", DIFFERENT bytes"}); links are in Secret coll-rennes/dce-voirie-2027-links`);

  // The other way: an agent invites the company to send its offer (a guest voucher, used once).
  const invited = await fetch(`${env.GATEWAY_URL}/api/v1/tenants/rennes/sesf/vouchers.create`, {
    method: "POST",
    headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
    body: JSON.stringify({ description: "Offre pour le marché de voirie 2027", agent: { email: "dsi@ville-rennes.example" }, guest: { email: "contact@entreprise-travaux.example" }, voucherDays: 3 }),
  });
  if (invited.status !== 200) throw new StartError("demo", `creating a guest voucher answered ${invited.status}: ${await invited.text()}`, "");
  const voucher = (await invited.json()) as { voucherUrl: string; links: { url: string }[] };
  const offer = `%PDF-1.7\n% Offre de l'entreprise — démonstration ${new Date().toISOString()}\n%%EOF\n`;
  const sent = (await (await fetch(`${voucher.voucherUrl}/files/offre.pdf`, { method: "PUT", headers: { "content-type": "application/octet-stream" }, body: offer })).json()) as { id: string };
  const closed = await fetch(`${voucher.voucherUrl}/complete`, { method: "POST" });
  const reused = await fetch(`${voucher.voucherUrl}/files/encore.pdf`, { method: "PUT", headers: { "content-type": "application/octet-stream" }, body: "x" });
  const received = await fetch(`${voucher.links[0]!.url}/files/${sent.id}`);
  const mails = ((await (await fetch(`${env.MAIL_CATCHER_URL}/api/messages?to=contact@entreprise-travaux.example`)).json()) as { messages: { subject: string }[] }).messages;
  say(`  ✓ the company was told by e-mail: ${mails.length} message(s) in the mail catcher (${env.MAIL_CATCHER_URL}), the last « ${mails.at(-1)?.subject ?? "—"} »`);
  say(`  ✓ a guest voucher let the company send its offer once (${closed.status}; used again: ${reused.status}); the agent downloaded it (${received.status}${(await received.text()) === offer ? ", identical bytes" : ", DIFFERENT bytes"})`);
}

/** The observatory, once it has counted what the walkthroughs did: Rennes's and Rennes Métropole's indicators. */
async function observatoryWalkthrough(config: PlatformConfig): Promise<void> {
  const env = platformEnv(config);
  say("");
  say("The observatory counts the services' business events over NATS (exactly, the dedicated deployment's too) and reads the rest from Prometheus…");
  type Row = { name: string; displayName: string; values: Record<string, number | null> };
  let rows: Row[] = [];
  const find = (name: string) => rows.find((c) => c.name === name);
  for (let i = 0; i < 60; i++) {
    const report = (await (await fetch(`${env.OBSERVATORY_URL}/export.json`)).json().catch(() => ({}))) as { collectivities?: Row[] };
    rows = report.collectivities ?? [];
    const [rennes, metropole] = [find("rennes"), find("rennes-metropole")];
    // The counts come from the events at once; the running services, from Prometheus's next scrape of the operator.
    const counted = (rennes?.values.actesTransmis ?? 0) >= 1 && (rennes?.values.volumeEchanges ?? 0) > 0 && (metropole?.values.actesTransmis ?? 0) >= 1;
    if (counted && (rennes?.values.servicesActifs ?? 0) >= 1 && (metropole?.values.servicesActifs ?? 0) >= 1) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  const percent = (x: number | null | undefined) => (x === null || x === undefined ? "—" : `${Math.round(x * 100)} %`);
  for (const name of ["rennes", "rennes-metropole"]) {
    const row = find(name);
    const v = row?.values ?? {};
    say(`  ✓ ${row?.displayName ?? name}: ${v.actesTransmis ?? 0} act(s) teletransmitted, ${percent(v.partActesAcquittes)} acknowledged, ${v.volumeEchanges ?? 0} bytes exchanged securely, ${v.servicesActifs ?? 0} active service(s)`);
  }
  say(`  → open ${env.OBSERVATORY_URL} (in French: the region, every collectivity, CSV and JSON exports)`);
}

/** What a newcomer should look at once the platform runs. */
function printGuide(config: PlatformConfig): void {
  const env = platformEnv(config);
  const local = relative(process.cwd(), config.dir) || ".";
  const rows: [string, string][] = [
    [`set -a; . ${local}/env; set +a`, "KUBECONFIG, NATS_URL, MONGODB_URI, PROMETHEUS_URL… in your shell"],
    [`${local}/bin/kubectl get collectivities`, "the tenants (kubectl get mutualis lists every Mutualis resource)"],
    [`${local}/bin/kubectl get ns,resourcequota,networkpolicy,rolebinding,secret -n coll-rennes`, "what the operator made for Rennes"],
    [`${local}/bin/kubectl get nodes -L topology.kubernetes.io/zone`, "local-1 runs pods as processes (fr-bzh-1a); KWOK simulates fr-bzh-1b"],
    [`${local}/bin/kubectl get pods -n coll-rennes-metropole -o wide`, "Rennes Métropole's own actes pod, on its loopback address"],
    [`${local}/bin/kubectl get secureshares -A`, "secure shares, their state, expiry and files"],
    [`${local}/bin/kubectl get --raw '/readyz?verbose'`, "the real kube-apiserver (RBAC on)"],
    [`TOKEN=$(make -s token USER=agent@ville-rennes.example)`, `an agent of Rennes signs in at the identity service (the demo's people share the password in ${local}/identity/demo-password)`],
    [`${platformEnv(config).IDENTITY_ISSUER}/.well-known/openid-configuration`, "the identity service (OpenID Connect issuer; CA in " + local + "/pki/ca.crt)"],
    [`make kubeconfig; ${local}/bin/kubectl --kubeconfig ${local}/kubeconfig-oidc auth whoami`, "kubectl as a person: open the page it shows, sign in by password or « S’identifier avec ProConnect » (the simulator's Camille Le Goff, Ville de Rennes)"],
    [`http://127.0.0.1:${config.ports.portal}`, "the portal: sign in as dsi@ville-rennes.example (password in " + local + "/identity/demo-password), or through ProConnect; Rennes's members and their roles"],
    [`http://127.0.0.1:${config.ports.portal}/collectivites/rennes/parapheur`, `the parapheur of a signer: sign in as maire@ville-rennes.example or adjoint@ville-rennes.example (their authenticator secrets from the demo are in ${local}/demo)`],
    [`${env.MAIL_CATCHER_URL}`, "the mail catcher: every e-mail the platform sent (share links, invitations, confirmations)"],
    [`curl -H "Authorization: Bearer $TOKEN" ${env.GATEWAY_URL}/api/v1/tenants/rennes/actes/list`, "Rennes's acts, through the gateway"],
    [`${env.GATEWAY_URL}/api/v1/openapi.json`, "the gateway's API"],
    [env.OBSERVATORY_URL, "the observatory: how dematerialised each collectivity is (in French; CSV and JSON exports)"],
    [env.IPL_URL, "the acts published (in French, no sign-in): each collectivity's acts, Atom feeds, the délibérations as SCDL open data, the check of a file"],
    [`${env.PROMETHEUS_URL}/user/`, "the monitoring team's dashboards (the Helm chart's, as Grafana shows them in production), drawn from the local Prometheus"],
    [`${env.PROMETHEUS_URL}/query`, "Prometheus's own web UI: what it scrapes (service pods: job mutualis-pods), its alerts"],
    [`${local}/bin/kubectl get pods,lease -n mutualis-system`, "the operator, installed by Helm: two pods, one holding the Lease"],
    [`ls cdk8s/dist/production cdk8s/dist/local`, "the hosting lot's manifests (make synth)"],
    [`curl -s ${env.NATS_MONITOR_URL}/accountz`, "NATS: one account per tenant, JetStream"],
    // The address without its password: it is in .local/env, for whoever may read that file.
    [`mongosh "$MONGODB_URI"`, "FerretDB on PostgreSQL, over TLS, as the platform's administrator; each collectivity's role is in its `database` Secret"],
    ["make status / make down", "show or stop the platform"],
  ];
  const width = Math.max(...rows.map(([command]) => command.length));
  say("");
  say("Have a look:");
  for (const [command, what] of rows) say(`  ${command.padEnd(width)}   # ${what}`);
}

async function main(command: string | undefined): Promise<number> {
  const config = loadConfig();
  switch (command) {
    case "up": {
      say(`Starting the Mutualis local platform in ${config.dir}`);
      const started = Date.now();
      await up(config, say);
      say(`Local platform ready in ${((Date.now() - started) / 1000).toFixed(1)}s; environment in ${config.dir}/env`);
      return 0;
    }
    case "down":
      say("Stopping the Mutualis local platform");
      await down(config, say);
      say("Stopped; no component is running and their ports are free.");
      return 0;
    case "status":
      await printStatus(config);
      return 0;
    case "demo": {
      say(`Starting the Mutualis local platform in ${config.dir}`);
      await up(config, say);
      say("");
      say("The local platform:");
      await printStatus(config);
      if (config.withOperator) {
        const kubectl = new Kubectl(layout(config).bin("kubectl"), layout(config).kubeconfig);
        await hostingLot(config, kubectl, say);
        await installOperatorChart(config, kubectl, say);
        await applyExamples(config);
        await actesWalkthrough(config, { collectivity: "rennes", name: "Rennes", admin: "dsi@ville-rennes.example", agent: "agent@ville-rennes.example", tenancy: "shared" });
        await actesWalkthrough(config, {
          collectivity: "rennes-metropole",
          name: "Rennes Métropole",
          admin: "dsi@rennes-metropole.example",
          agent: "agent@rennes-metropole.example",
          tenancy: "dedicated",
        });
        await deliberationWalkthrough(config, say);
        await secureShareWalkthrough(config);
        await observatoryWalkthrough(config);
      }
      printGuide(config);
      return 0;
    }
    case "token": {
      const email = process.argv[3];
      if (!email) {
        console.error(`usage: make token USER=<email>; the demo's people: ${demoPeople("").accounts.map((a) => a.email).join(", ")}`);
        return 2;
      }
      say(await demoToken(config, email));
      return 0;
    }
    case "kubeconfig": {
      const file = writeOidcKubeconfig(config);
      say(`Wrote ${relative(process.cwd(), file)}: kubectl as a person of the identity service.`);
      say(`  ${relative(process.cwd(), config.dir) || "."}/bin/kubectl --kubeconfig ${relative(process.cwd(), file)} auth whoami`);
      say("kubectl shows a page and a code: open it, check the code and sign in (the demo's people share the password in .local/identity/demo-password).");
      return 0;
    }
    case "credential": {
      // kubectl's exec plugin: the credential on standard output, what the person must do on standard error.
      const [issuer, caFile, cacheFile] = process.argv.slice(3);
      if (!issuer || !caFile || !cacheFile) {
        console.error("usage: mutualis-local credential <issuer> <ca file> <token cache file> (written by make kubeconfig)");
        return 2;
      }
      say(JSON.stringify(await kubectlCredential({ issuer, caFile, cacheFile, tell: (line) => console.error(line) })));
      return 0;
    }
    case "rotate-keys": {
      say(`The identity service signs with a new key (${await rotateIdentityKeys(config)}); tokens signed before stay valid until they expire.`);
      return 0;
    }
    case "env":
      for (const [key, value] of Object.entries(platformEnv(config))) say(`${key}=${value}`);
      return 0;
    default:
      console.error("usage: mutualis-local up|down|status|env|demo|token <email>|kubeconfig|rotate-keys");
      return 2;
  }
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof StartError) {
      console.error(`\n✗ ${error.message}`);
    } else {
      console.error(error);
    }
    process.exit(1);
  },
);
