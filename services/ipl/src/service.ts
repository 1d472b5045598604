import { createHash } from "node:crypto";
import type { Response } from "express";
import {
  allow,
  baseSettings,
  Conflict,
  handedChunk,
  InvalidRequest,
  NotFound,
  ObjectFiles,
  tenantEndpoint,
  tenantEndpoints,
  TenantRepository,
  type EndpointSpec,
  type HandedChunk,
  type ServiceDefinition,
  type Tenant,
} from "@mutualis/service-kit";
import { z } from "zod";
import { atomFeed } from "./domain/atom.ts";
import { scdlCsv, scdlJson, scdlMatiereName, scdlPrefectureId, type ScdlRow } from "./domain/scdl.ts";
import { actPage, collectivityPage, hashMatches, hashResult, homePage, notFoundPage, verifyPage, verifyScript, type CollectivityEntry, type HashMatch } from "./pages.ts";
import { publicationRequest, PublicationRepository, type Publication, type PublicationRequest } from "./publications.ts";

export const iplSettings = baseSettings.extend({
  /** Where the public pages are reached: the links of the feed and of the open data start with it. */
  IPL_PUBLIC_URL: z.url().default("http://127.0.0.1:16089"),
  /** The most the object store of the published files holds. */
  IPL_FILES_MAX_BYTES: z.coerce.number().int().positive().default(1024 ** 3),
});

export type IplSettings = z.infer<typeof iplSettings>;

const day = (at: Date) => at.toLocaleDateString("sv-SE", { timeZone: "Europe/Paris" });
const entryOf = (tenant: Tenant): CollectivityEntry => ({ name: tenant._id, displayName: tenant.displayName });

/** One délibération as an SCDL row; the links to its public page. */
function scdlRow(tenant: Tenant, p: Publication, publicUrl: string): ScdlRow {
  return {
    COLL_NOM: tenant.displayName,
    COLL_SIRET: tenant.authority!.siret!,
    DELIB_ID: p.numeroInterne,
    DELIB_DATE: p.date,
    DELIB_MATIERE_CODE: p.classification.split(".").slice(0, 2).join("."),
    DELIB_MATIERE_NOM: p.matiere ? scdlMatiereName(p.matiere[0], p.matiere[1]) : p.classification,
    DELIB_OBJET: p.objet,
    ...(p.controlled && tenant.authority ? { PREF_ID: scdlPrefectureId(tenant.authority.departement, tenant.authority.arrondissement || undefined) } : {}),
    ...(p.acknowledgedOn ? { PREF_DATE: p.acknowledgedOn } : {}),
    DELIB_URL: `${publicUrl}/${tenant._id}/actes/${p._id}`,
  };
}

/**
 * The publication of acts (lot 3): an act the actes service publishes once acknowledged is put
 * online in full, its file kept in the object store, with the dates that make it enforceable;
 * public pages per collectivity, an Atom feed, the délibérations as SCDL open data per
 * collectivity and for the region, and a page where anyone checks a file is the one published.
 * An administrator may withdraw an act: its page says when and why.
 */
export function iplService(): ServiceDefinition<IplSettings> {
  let files: ObjectFiles;
  return {
    description: "Publication of acts: enforceable acts online, their feed and open data",
    async onStart(context) {
      files = await ObjectFiles.open(context.nats, "IPL_FILES", { replicas: context.settings.NATS_STREAM_REPLICAS, maxBytes: context.settings.IPL_FILES_MAX_BYTES });
    },
    endpoints(context) {
      const tenants = new TenantRepository(context.database, "ipl");
      const publications = new PublicationRepository(context.database);
      const published = context.metrics.businessCounter("mutualis_ipl_published_total", "Acts put online, per collectivity.");
      const delay = context.metrics.businessHistogram(
        "mutualis_ipl_publication_delay_seconds",
        "Time from an act's acknowledgement by the prefecture to its publication, per collectivity.",
        [1, 10, 60, 600, 3600, 86_400, 7 * 86_400],
      );
      const publish = async (collectivity: string, request: PublicationRequest) => {
        let tenant: Tenant;
        try {
          tenant = await tenants.require(collectivity);
        } catch {
          return { published: false, reason: `la collectivité ${collectivity} ne publie pas ses actes sur la plateforme` };
        }
        const { file, actId, ...act } = request;
        const url = `${context.settings.IPL_PUBLIC_URL}/${tenant._id}/actes/${actId}`;
        const existing = await publications.find(collectivity, actId);
        if (existing) {
          const updated = act.acknowledgedOn && !existing.acknowledgedOn ? await publications.acknowledged(collectivity, actId, act.acknowledgedOn) : existing;
          return { published: true, url, publishedAt: updated.publishedAt.toISOString() };
        }
        if (!file) throw new InvalidRequest(`act ${actId} is not published yet: its file is needed`);
        const measured = await files.handedOver(collectivity, file, `${collectivity}/actes/${actId}/${file.fileName}`);
        const now = new Date();
        const stored = await publications.publish({
          ...act,
          _id: actId,
          collectivity,
          publishedAt: now,
          file: { fileName: file.fileName, mimeType: file.mimeType, size: file.size, sha256: file.sha256, object: measured },
        });
        if (stored.publishedAt.getTime() === now.getTime()) {
          published.inc({ collectivity });
          context.events.record(collectivity, "published", actId, 1, now);
          if (act.acknowledgedOn) delay.observe({ collectivity }, Math.max(0, (now.getTime() - Date.parse(`${act.acknowledgedOn}T00:00:00Z`)) / 1000));
        }
        return { published: true, url, publishedAt: stored.publishedAt.toISOString() };
      };
      const endpoints: EndpointSpec[] = [
        // The actes service hands over the file, then asks for the publication: on the
        // collectivity's own subjects, which a dedicated deployment's account imports alone.
        {
          name: "file",
          subject: "ipl.*.file",
          callers: allow.platform(),
          schema: handedChunk,
          handle: (request, { subject }) => files.takeChunk(subject.split(".")[1]!, request as HandedChunk),
        },
        {
          name: "publish",
          subject: "ipl.*.publish",
          callers: allow.platform(),
          schema: publicationRequest,
          handle: async (request, { subject }) => publish(subject.split(".")[1]!, request as PublicationRequest),
        },
        tenantEndpoint({
          name: "list",
          subject: "tenant.*.ipl.list",
          schema: z.unknown(),
          callers: allow.members(),
          handle: async (_request, { collectivity }) => {
            await tenants.require(collectivity);
            return (await publications.search(collectivity)).map((p) => ({
              id: p._id,
              identifier: p.identifier,
              objet: p.objet,
              publishedAt: p.publishedAt,
              sha256: p.file.sha256,
              url: `${context.settings.IPL_PUBLIC_URL}/${collectivity}/actes/${p._id}`,
              ...(p.withdrawn ? { withdrawn: p.withdrawn } : {}),
            }));
          },
        }),
        // Taking an act off the public pages is an administrator's decision, with its reason:
        // recorded, logged and shown on the act's page.
        tenantEndpoint({
          name: "withdraw",
          subject: "tenant.*.ipl.withdraw",
          schema: z.object({ id: z.uuid(), reason: z.string().trim().min(10, "say why, in at least 10 characters").max(1000) }),
          callers: allow.roles("administrateur"),
          handle: async ({ id, reason }, { collectivity, caller }) => {
            await tenants.require(collectivity);
            const by = caller.kind === "user" ? caller.email : caller.client;
            const withdrawn = await publications.withdraw(collectivity, id, by, reason, new Date());
            context.log.info({ collectivity, act: id, by, action: "withdraw" }, "an act was withdrawn from the public pages");
            context.events.record(collectivity, "withdrawn", id, 1, withdrawn.withdrawn!.at);
            return { id, withdrawn: withdrawn.withdrawn };
          },
        }),
        ...tenantEndpoints("ipl", tenants),
      ];
      return endpoints;
    },
    routes(app, context) {
      const tenants = new TenantRepository(context.database, "ipl");
      const publications = new PublicationRepository(context.database);
      const publicUrl = context.settings.IPL_PUBLIC_URL.replace(/\/$/, "");
      const tenantOf = (name: string) =>
        tenants.require(name).catch(() => {
          throw new NotFound(`aucune collectivité ${name} ne publie ici`);
        });
      const html = (res: Response, body: string) => res.type("html").set("cache-control", "no-cache").send(body);
      const matchesFor = async (sha256: string): Promise<HashMatch[]> => {
        const all = new Map((await tenants.enabled()).map((t) => [t._id, t]));
        return (await publications.byHash(sha256)).flatMap((p) => (all.has(p.collectivity) ? [{ collectivity: entryOf(all.get(p.collectivity)!), publication: p }] : []));
      };
      /**
       * The region's délibérations. A collectivity that has not declared its SIRET (its
       * Collectivity's spec.actes.siret) cannot be in SCDL open data: it is left out, and the
       * answer says which (header X-Mutualis-Omitted) rather than failing the whole region.
       */
      const regionRows = async () => {
        const all = new Map((await tenants.enabled()).map((t) => [t._id, t]));
        const omitted = new Set<string>();
        const rows = (await publications.deliberations()).flatMap((p) => {
          const tenant = all.get(p.collectivity);
          if (!tenant) return [];
          if (!tenant.authority?.siret) return void omitted.add(tenant._id), [];
          return [scdlRow(tenant, p, publicUrl)];
        });
        return { rows, omitted: [...omitted].sort() };
      };
      const withOmitted = (res: Response, omitted: readonly string[]) => (omitted.length > 0 ? res.set("x-mutualis-omitted", omitted.join(",")) : res);
      /** A collectivity's délibérations, which need its SIRET. */
      const collectivityRows = async (tenant: Tenant) => {
        if (!tenant.authority?.siret) throw new Conflict(`la collectivité ${tenant._id} n'a pas déclaré le SIRET de son siège (spec.actes.siret de sa Collectivity) : ses délibérations ne peuvent pas être publiées en données ouvertes SCDL`);
        return (await publications.deliberations(tenant._id)).map((p) => scdlRow(tenant, p, publicUrl));
      };

      app.get("/", async (_req, res) => html(res, homePage((await tenants.enabled()).map(entryOf))));
      app.get("/verifier.js", (_req, res) => void res.type("text/javascript").set("cache-control", "max-age=300").send(verifyScript));
      app.get("/verifier", async (req, res) => {
        const typed = typeof req.query.empreinte === "string" ? req.query.empreinte.trim().toLowerCase() : undefined;
        if (typed && !/^[0-9a-f]{64}$/.test(typed)) return void res.status(400).type("html").send(verifyPage({ sha256: typed, matches: [] }));
        html(res, verifyPage(typed ? { sha256: typed, matches: await matchesFor(typed) } : undefined));
      });
      // The lookup the page's script makes: the result as HTML, or as JSON for software.
      app.get("/empreintes/:sha256", async (req, res) => {
        const sha256 = String(req.params.sha256).toLowerCase();
        if (!/^[0-9a-f]{64}$/.test(sha256)) throw new InvalidRequest("une empreinte SHA-256 a 64 caractères hexadécimaux");
        const matches = await matchesFor(sha256);
        if (req.accepts(["json", "html"]) === "html") return void html(res, hashResult(sha256, matches));
        res.json({ sha256, published: hashMatches(matches) });
      });
      app.get("/donnees-ouvertes/deliberations.csv", async (_req, res) => {
        const { rows, omitted } = await regionRows();
        withOmitted(res, omitted).type("text/csv; charset=utf-8").set("content-disposition", 'attachment; filename="deliberations-region.csv"').send(scdlCsv(rows));
      });
      app.get("/donnees-ouvertes/deliberations.json", async (_req, res) => {
        const { rows, omitted } = await regionRows();
        withOmitted(res, omitted).set("content-disposition", 'attachment; filename="deliberations-region.json"').json(scdlJson(rows));
      });
      app.get("/:collectivity", async (req, res) => {
        const tenant = await tenantOf(String(req.params.collectivity));
        const text = typeof req.query.q === "string" && req.query.q.trim() ? req.query.q.trim().slice(0, 200) : undefined;
        const nature = Number(req.query.nature) || undefined;
        const dateOf = (value: unknown) => (typeof value === "string" && /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(value) ? value : undefined);
        const filter = { ...(text ? { text } : {}), ...(nature ? { nature } : {}), ...(dateOf(req.query.du) ? { from: dateOf(req.query.du)! } : {}), ...(dateOf(req.query.au) ? { to: dateOf(req.query.au)! } : {}) };
        html(res, collectivityPage(entryOf(tenant), await publications.search(tenant._id, filter), filter));
      });
      app.get("/:collectivity/flux.atom", async (req, res) => {
        const tenant = await tenantOf(String(req.params.collectivity));
        const online = (await publications.search(tenant._id, {}, 100)).filter((p) => !p.withdrawn);
        const base = `${publicUrl}/${tenant._id}`;
        res.type("application/atom+xml; charset=utf-8").send(
          atomFeed(
            {
              url: `${base}/flux.atom`,
              pageUrl: base,
              title: `Actes publiés — ${tenant.displayName}`,
              entries: online.map((p) => ({
                url: `${base}/actes/${p._id}`,
                title: p.objet,
                summary: `${p.identifier}, acte du ${p.date}${p.acknowledgedOn ? `, reçu en préfecture le ${p.acknowledgedOn}` : ""}`,
                publishedAt: p.publishedAt,
                updatedAt: p.publishedAt,
                file: { url: `${base}/actes/${p._id}/fichier`, type: p.file.mimeType, length: p.file.size },
                ...(p.author ? { author: p.author } : {}),
              })),
            },
            new Date(),
          ),
        );
      });
      app.get("/:collectivity/donnees-ouvertes/deliberations.csv", async (req, res) => {
        const tenant = await tenantOf(String(req.params.collectivity));
        const rows = await collectivityRows(tenant);
        res.type("text/csv; charset=utf-8").set("content-disposition", `attachment; filename="deliberations-${tenant._id}.csv"`).send(scdlCsv(rows));
      });
      app.get("/:collectivity/donnees-ouvertes/deliberations.json", async (req, res) => {
        const tenant = await tenantOf(String(req.params.collectivity));
        res.set("content-disposition", `attachment; filename="deliberations-${tenant._id}.json"`).json(scdlJson(await collectivityRows(tenant)));
      });
      app.get("/:collectivity/actes/:id", async (req, res) => {
        const tenant = await tenantOf(String(req.params.collectivity));
        html(res, actPage(entryOf(tenant), await publications.get(tenant._id, String(req.params.id))));
      });
      app.get("/:collectivity/actes/:id/fichier", async (req, res) => {
        const tenant = await tenantOf(String(req.params.collectivity));
        const p = await publications.get(tenant._id, String(req.params.id));
        if (p.withdrawn) return void res.status(410).type("html").send(notFoundPage(`Cet acte a été retiré de la publication le ${day(p.withdrawn.at)}.`));
        res.set({
          "content-type": p.file.mimeType,
          "content-length": String(p.file.size),
          "content-disposition": `attachment; filename="${p.file.fileName.replace(/[^A-Za-z0-9._-]/g, "_")}"`,
          // The published file never changes: its digest is its version.
          etag: `"${p.file.sha256}"`,
          "x-content-sha256": p.file.sha256,
        });
        const hash = createHash("sha256");
        for await (const chunk of files.read(p.file.object.nuid, p.file.object.chunks)) {
          hash.update(chunk);
          if (!res.write(chunk)) await new Promise((resolve) => res.once("drain", resolve));
        }
        // A file the store gives back changed is never passed off as the published one.
        if (hash.digest("hex") !== p.file.sha256) {
          context.log.error({ collectivity: tenant._id, act: p._id }, "a published file read back does not match its digest");
          return void res.destroy();
        }
        res.end();
      });
    },
  };
}
