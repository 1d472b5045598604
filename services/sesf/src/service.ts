import { readFileSync } from "node:fs";
import {
  allow,
  ConfigError,
  enableDedicatedTenant,
  Forbidden,
  NotFound,
  tenantEndpoint,
  tenantEndpoints,
  TenantRepository,
  Mailer,
  type Caller,
  type EndpointSpec,
  type MailMessage,
  type ServiceDefinition,
} from "@mutualis/service-kit";
import { z } from "zod";
import { listedFor, mayManage, ownerOf } from "./access.ts";
import { guestInvitation, recipientNotice, sendNotices, type Sender } from "./notices.ts";
import { IntegrityError } from "./crypto.ts";
import { contentDisposition } from "./names.ts";
import { OffsetMismatch, Shares, type Share } from "./shares.ts";
import { limitsOf, tenantSettingsSchema, type SesfSettings } from "./settings.ts";

function masterKey(file: string): Buffer {
  let key: Buffer;
  try {
    key = Buffer.from(readFileSync(file, "utf8").trim(), "base64");
  } catch {
    throw new ConfigError("invalid settings: SESF_MASTER_KEY_FILE cannot be read");
  }
  if (key.length !== 32) throw new ConfigError("invalid settings: SESF_MASTER_KEY_FILE must hold 32 bytes, base64");
  return key;
}

const recipients = z
  .array(z.object({ email: z.email().max(254), name: z.string().max(200).optional() }))
  .min(1);

/** The platform's operator, which makes and revokes the shares of SecureShare objects. */
export const operatorClient = "mutualis-operator";

/** A share as its collectivity sees it: never a token, a key or a password hash. */
async function shareView(shares: Shares, share: Share) {
  return {
    id: share._id,
    description: share.description,
    state: share.state,
    createdAt: share.createdAt.toISOString(),
    expiresAt: share.expiresAt.toISOString(),
    downloadLimit: share.downloadLimit ?? null,
    passwordRequired: Boolean(share.passwordHash),
    ...(share.guest ? { guest: share.guest.email, uploadUntil: share.uploadUntil?.toISOString() ?? null } : {}),
    uploadsClosed: Boolean(share.uploadsClosedAt),
    files: share.files.map((f) => ({ id: f.id, name: f.name, size: f.size, sha256: f.sha256, scan: f.scan, ...(f.signature ? { signature: f.signature } : {}) })),
    totalBytes: share.files.reduce((sum, f) => sum + f.size, 0),
    recipients: share.recipients.filter((r) => !r.revoked).map((r) => r.email),
    downloads: await shares.downloadsOf(share),
  };
}

/**
 * The secure file exchange: shares managed on `tenant.<collectivity>.sesf.shares.*`, files
 * uploaded and downloaded over HTTP with capability links, expired shares purged.
 */
export function sesfService(): ServiceDefinition<SesfSettings> {
  let shares: Shares;
  let sweeper: NodeJS.Timeout | undefined;
  const tenantsOf = (context: { database: ConstructorParameters<typeof TenantRepository>[0]; settings: SesfSettings }) =>
    new TenantRepository(context.database, "sesf", tenantSettingsSchema(context.settings));
  const tenantOf = async (tenants: TenantRepository, collectivity: string | undefined) => {
    if (!collectivity) throw new Forbidden("shares are managed on a tenant subject, tenant.<collectivity>.sesf.…");
    await tenants.require(collectivity);
    return collectivity;
  };
  return {
    description: "Secure file exchange: encrypted, expiring, download-limited shares (as FileSender and Lufi)",
    async onStart(context) {
      const tenants = tenantsOf(context);
      shares = new Shares(context.database, context.settings, masterKey(context.settings.SESF_MASTER_KEY_FILE), context.metrics, context.events, async (collectivity) =>
        limitsOf(context.settings, await tenants.settingsOf(collectivity)),
      );
      await enableDedicatedTenant(context.settings, tenants);
      if (!context.settings.SESF_CLAMD_ADDRESS) context.log.warn("SESF_CLAMD_ADDRESS is not set: uploads are kept unscanned");
      const sweep = () =>
        shares.expireDue().then(
          (n) => n > 0 && context.log.info({ expired: n }, "expired shares purged"),
          (error: unknown) => context.log.warn({ err: error }, "could not purge expired shares"),
        );
      await sweep();
      sweeper = setInterval(() => void sweep(), context.settings.SESF_SWEEP_SECONDS * 1000);
    },
    async onStop() {
      clearInterval(sweeper);
      await shares?.stop();
    },
    routes(app, context) {
      const fileView = (file: { id: string; name: string; size: number; sha256: string; scan: string }) => ({ id: file.id, name: file.name, size: file.size, sha256: file.sha256, scan: file.scan });
      const address = (req: { ip?: string }) => req.ip ?? "unknown";
      // One request per file…
      app.put("/api/v1/uploads/:token/files/:name", async (req, res) => {
        const declared = req.get("content-length") === undefined ? undefined : Number(req.get("content-length"));
        res.status(201).json(fileView(await shares.upload(req.params.token, req.params.name, req, address(req), Number.isSafeInteger(declared) ? declared : undefined)));
      });
      // …or a chunked upload, for large files over slow or unreliable links: start it, send
      // chunks with the offset each starts at (Upload-Offset), ask where it stands after a
      // broken connection; the last chunk answers 201 with the file.
      const sessionStart = z.object({ name: z.string().min(1).max(1000), size: z.number().int().positive() });
      app.post("/api/v1/uploads/:token/sessions", async (req, res) => {
        const parsed = sessionStart.safeParse(req.body);
        if (!parsed.success) return void res.status(400).json({ error: "InvalidRequest", message: "give the file's name and size: {\"name\": \"plans.zip\", \"size\": 123}" });
        const session = await shares.startSession(req.params.token, parsed.data.name, parsed.data.size);
        res.status(201).json({ id: session._id, name: session.name, size: session.size, offset: 0, chunkBytes: context.settings.SESF_CHUNK_BYTES });
      });
      app.get("/api/v1/uploads/:token/sessions/:id", async (req, res) => {
        const session = await shares.session(req.params.token, req.params.id);
        res.set({ "upload-offset": String(session.offset), "upload-length": String(session.size), "cache-control": "no-store" }).json({ id: session._id, name: session.name, size: session.size, offset: session.offset });
      });
      app.patch("/api/v1/uploads/:token/sessions/:id", async (req, res) => {
        const offset = Number(req.get("upload-offset"));
        if (!Number.isSafeInteger(offset) || offset < 0) return void res.status(400).json({ error: "InvalidRequest", message: "the Upload-Offset header must say where this chunk starts, in bytes" });
        try {
          const { session, file } = await shares.appendChunk(req.params.token, req.params.id, offset, req, address(req));
          res.set("upload-offset", String(session.offset));
          if (file) res.status(201).json(fileView(file));
          else res.status(204).end();
        } catch (error) {
          if (error instanceof OffsetMismatch) res.set("upload-offset", String(error.offset));
          throw error;
        }
      });
      app.post("/api/v1/uploads/:token/complete", async (req, res) => {
        const share = await shares.closeUploads(req.params.token, address(req));
        res.json({ files: share.files.filter((f) => f.scan !== "infected").length, expiresAt: share.expiresAt.toISOString() });
      });
      app.get("/api/v1/links/:token", async (req, res) => {
        const { share } = await shares.open(req.params.token, req.get("x-share-password"), address(req));
        res.locals.collectivity = share.collectivity;
        res.set("cache-control", "no-store").json({
          description: share.description,
          expiresAt: share.expiresAt.toISOString(),
          files: share.files.filter((f) => f.scan !== "infected").map((f) => ({ id: f.id, name: f.name, size: f.size, sha256: f.sha256 })),
        });
      });
      app.get("/api/v1/links/:token/files/:fileId", async (req, res) => {
        try {
          await shares.download(req.params.token, req.get("x-share-password"), req.params.fileId, address(req), (file) => {
            res.status(200).set({
              "content-type": "application/octet-stream",
              "content-length": String(file.size),
              "content-disposition": contentDisposition(file.name),
              "cache-control": "no-store",
            });
            return res;
          });
        } catch (error) {
          if (error instanceof IntegrityError) {
            // Never corrupted bytes: an error status if nothing was sent yet, else a cut response.
            if (res.headersSent) return void res.destroy(error);
            res.status(500).json({ error: "IntegrityError", message: "the stored file failed its integrity check and will not be served" });
            return;
          }
          if (res.headersSent) return void res.destroy(error as Error);
          throw error;
        }
      });
    },
    endpoints: (context) => {
      const tenants = tenantsOf(context);
      const byId = z.object({ id: z.uuid() });
      /** A share the caller may manage; any other is not found, as if it did not exist. */
      const manageable = async (collectivity: string, id: string, caller: Caller, find = () => shares.get(collectivity, id)) => {
        const share = await find();
        if (!mayManage(share, caller, collectivity)) throw new NotFound(`no share ${id}`);
        return share;
      };
      // Agents manage their own shares, administrators all; the operator those its SecureShares made.
      const managers = allow.any(allow.members(), allow.clients(operatorClient));
      const mailer = Mailer.fromSettings(context.settings, context.log);
      /** Sends the step's e-mails (unless the caller sends them itself), recorded in the share's audit. */
      const notify = async (collectivity: string, caller: Caller, shareId: string, wanted: boolean, build: (sender: Sender) => MailMessage[]) => {
        if (!wanted) return { sent: [], failed: [] };
        const tenant = await tenants.require(collectivity);
        const result = await sendNotices(mailer, build({ who: caller.kind === "user" ? caller.email : undefined, collectivity: tenant.displayName }));
        await shares.recordNotices({ _id: shareId, collectivity }, result);
        return result;
      };
      const notifyField = z.boolean().default(true);
      const endpoints: EndpointSpec[] = [
        tenantEndpoint({
          name: "create",
          subject: "tenant.*.sesf.shares.create",
          schema: z.object({
            id: z.uuid().optional(),
            description: z.string().max(500).optional(),
            recipients,
            expiryDays: z.number().int().min(1).optional(),
            downloadLimit: z.number().int().min(1).max(1000).optional(),
            password: z.string().min(8).max(200).optional(),
            /** Whether sesf e-mails each recipient their link (the default); the answer has the links either way. */
            notify: notifyField,
          }),
          callers: managers,
          handle: async ({ notify: wanted, ...request }, { collectivity, caller }) => {
            const created = await shares.create(await tenantOf(tenants, collectivity), request, ownerOf(caller));
            const view = { description: request.description ?? "", expiresAt: created.expiresAt, passwordRequired: Boolean(request.password) };
            const { sent } = await notify(collectivity, caller, created.id, wanted, (sender) => created.links.map((link) => recipientNotice(sender, view, link)));
            return { ...created, links: created.links.map((link) => ({ ...link, notified: sent.includes(link.email) })) };
          },
        }),
        tenantEndpoint({
          name: "voucher",
          subject: "tenant.*.sesf.vouchers.create",
          schema: z.object({
            id: z.uuid().optional(),
            description: z.string().max(500).optional(),
            agent: z.object({ email: z.email().max(254), name: z.string().max(200).optional() }),
            guest: z.object({ email: z.email().max(254), name: z.string().max(200).optional() }),
            voucherDays: z.number().int().min(1).optional(),
            expiryDays: z.number().int().min(1).optional(),
            /** Whether sesf e-mails the guest their invitation (the default). */
            notify: notifyField,
          }),
          callers: allow.members(),
          handle: async ({ notify: wanted, ...request }, { collectivity, caller }) => {
            const voucher = await shares.createVoucher(await tenantOf(tenants, collectivity), request, ownerOf(caller));
            const description = request.description ?? "";
            // The guest is invited by e-mail; the agent has their link in the answer.
            const { sent } = await notify(collectivity, caller, voucher.id, wanted, (sender) => [
              guestInvitation(sender, { description, uploadUntil: voucher.uploadUntil, voucherUrl: voucher.voucherUrl }, request.guest.email),
            ]);
            return { ...voucher, guestNotified: sent.includes(request.guest.email) };
          },
        }),
        tenantEndpoint({
          name: "get",
          subject: "tenant.*.sesf.shares.get",
          schema: byId,
          callers: managers,
          handle: async ({ id }, { collectivity, caller }) => shareView(shares, await manageable(await tenantOf(tenants, collectivity), id, caller)),
        }),
        tenantEndpoint({
          name: "list",
          subject: "tenant.*.sesf.shares.list",
          schema: z.unknown(),
          callers: managers,
          handle: async (_request, { collectivity, caller }) =>
            Promise.all((await shares.list(await tenantOf(tenants, collectivity), listedFor(caller, collectivity))).map((s) => shareView(shares, s))),
        }),
        tenantEndpoint({
          name: "revoke",
          subject: "tenant.*.sesf.shares.revoke",
          schema: byId,
          callers: managers,
          // A disabled collectivity (its ServiceInstance deleted, or suspended) can still have its
          // shares revoked and purged: nothing it shared outlives it.
          handle: async ({ id }, { collectivity, caller }) => {
            await tenants.requireForCleanup(collectivity);
            await manageable(collectivity, id, caller);
            return shareView(shares, await shares.revoke(collectivity, id, ownerOf(caller)));
          },
        }),
        tenantEndpoint({
          name: "recipients",
          subject: "tenant.*.sesf.shares.recipients",
          schema: z.object({ id: z.uuid(), recipients, notify: notifyField }),
          callers: managers,
          handle: async ({ id, recipients: wanted, notify: notifyThem }, { collectivity, caller }) => {
            const share = await manageable(await tenantOf(tenants, collectivity), id, caller);
            const changed = await shares.setRecipients(collectivity, id, wanted, ownerOf(caller));
            const view = { description: share.description, expiresAt: share.expiresAt.toISOString(), passwordRequired: Boolean(share.passwordHash) };
            const { sent } = await notify(collectivity, caller, id, notifyThem, (sender) => changed.links.map((link) => recipientNotice(sender, view, link)));
            return { links: changed.links.map((link) => ({ ...link, notified: sent.includes(link.email) })) };
          },
        }),
        tenantEndpoint({
          name: "audit",
          subject: "tenant.*.sesf.shares.audit",
          schema: byId,
          // The trail names recipients and guests: their addresses are for administrators.
          callers: allow.roles("administrateur"),
          handle: async ({ id }, { collectivity }) => shares.trail(await tenantOf(tenants, collectivity), id),
        }),
        ...tenantEndpoints("sesf", tenants),
      ];
      return endpoints;
    },
  };
}
