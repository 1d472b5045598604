import type { KubernetesObject } from "@kubernetes/client-node";
import { validateSecureShareSpec, type SecureShare, type SecureShareStatus } from "@mutualis/api";
import { conditionTypes, fieldManager, finalizers, labels, operatorName, reasons } from "../../constants.ts";
import type { KubeClient } from "../../kube/client.ts";
import { isNotFound } from "../../kube/errors.ts";
import { resourceTypes } from "../../kube/resources.ts";
import { findCondition, setCondition, type Condition, type ConditionUpdate } from "../../runtime/conditions.ts";
import type { Reconciler, Request, Result } from "../../runtime/controller.ts";
import type { EventRecorder } from "../../runtime/events.ts";
import type { Informer } from "../../runtime/informer.ts";
import { reportReconcileFailure, writeStatus } from "../../runtime/status.ts";
import { ServiceCallError, type ServiceClient } from "../../tenancy/service-client.ts";

export const shareFinalizer = finalizers.secureShare;
/** How often an open share's downloads and files are read back into its status. */
const pollMs = 10_000;

interface Link {
  email: string;
  url: string;
}

interface ShareView {
  id: string;
  state: "open" | "revoked" | "expired" | "exhausted";
  expiresAt: string;
  files: unknown[];
  totalBytes: number;
  recipients: string[];
  downloads: { recipient: string; count: number; attempts: number }[];
}

interface Secret extends KubernetesObject {
  type?: string;
  data?: Record<string, string>;
}

export interface SecureShareReconcilerDeps {
  readonly client: KubeClient;
  readonly events: EventRecorder;
  readonly shares: Informer<SecureShare>;
  /** sesf, called as the operator (its own token: sesf lets it manage only the shares it made). */
  readonly services: Pick<ServiceClient, "tenant">;
  readonly now?: () => Date;
}

/** The answer about a password Secret the operator refuses to read. */
const refusedSecret = Symbol("refused");

export function linksSecretName(share: SecureShare): string {
  return `${share.metadata!.name}-links`;
}

const b64 = (text: string) => Buffer.from(text).toString("base64");
const unb64 = (text: string | undefined) => (text ? Buffer.from(text, "base64").toString("utf8") : undefined);

/**
 * A SecureShare becomes a share of the secure file exchange (SESF), created over NATS on the
 * collectivity's subjects. The recipients' links and the upload link go into a Secret beside it
 * (never into status or events); status follows the share: files, bytes, downloads per
 * recipient, expiry (requeued exactly then). Editing recipients adds and revokes links;
 * deleting the resource revokes the share and purges its content.
 */
export class SecureShareReconciler implements Reconciler {
  constructor(private readonly deps: SecureShareReconcilerDeps) {}

  /** A call to sesf as the operator: its own token says so, and sesf lets it manage only the shares it made. */
  private call<T>(collectivity: string, operation: string, body: unknown): Promise<T> {
    return this.deps.services.tenant<T>(collectivity, "sesf", `shares.${operation}`, body);
  }

  /** A failed reconcile is said in status. */
  reportFailure(request: Request, error: unknown): Promise<void> {
    return reportReconcileFailure(this.deps.client, resourceTypes.SecureShare, request, error, this.deps.now?.() ?? new Date());
  }


  async reconcile({ name, namespace }: Request): Promise<Result | undefined> {
    let share = this.deps.shares.get(name, namespace);
    if (!share) return undefined;
    const collectivity = namespace?.startsWith("coll-") ? namespace.slice("coll-".length) : undefined;
    const id = share.metadata!.uid!;
    if (share.metadata?.deletionTimestamp) {
      await this.finalize(share, collectivity, id);
      return undefined;
    }
    const spec = validateSecureShareSpec(share.spec);
    if (!collectivity) {
      return this.report(share, { state: "Failed" }, { type: conditionTypes.ready, status: "False", reason: reasons.noCollectivity, message: `create SecureShares in a coll-<name> namespace, not ${namespace}` });
    }
    share = await this.ensureFinalizer(share);
    const secretName = linksSecretName(share);
    let secret: Secret | undefined;
    try {
      secret = await this.deps.client.get<Secret>(resourceTypes.Secret, secretName, namespace);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    let view: ShareView;
    try {
      if (!secret) {
        const password = spec.passwordSecretRef ? await this.password(namespace!, spec.passwordSecretRef.name, spec.passwordSecretRef.key ?? "password") : undefined;
        if (password === refusedSecret) {
          return this.report(share, { state: "Failed" }, { type: conditionTypes.ready, status: "False", reason: reasons.passwordSecretRefused, message: `Secret ${spec.passwordSecretRef!.name} is managed by the platform: name a Secret of your own for the password` });
        }
        if (password === null) {
          return this.report(share, { state: "Pending" }, { type: conditionTypes.ready, status: "False", reason: reasons.passwordMissing, message: `Secret ${spec.passwordSecretRef!.name} has no key ${spec.passwordSecretRef!.key ?? "password"}` }, { requeueAfterMs: 15_000 });
        }
        const created = await this.call<{ uploadUrl: string; links: Link[] }>(collectivity, "create", {
          id,
          description: spec.description ?? "",
          recipients: spec.recipients,
          expiryDays: spec.expiryDays ?? 7,
          ...(spec.downloadLimit ? { downloadLimit: spec.downloadLimit } : {}),
          ...(password ? { password } : {}),
        });
        secret = await this.writeLinks(share, created.uploadUrl, created.links);
        await this.deps.events.record(share, "Normal", "ShareCreated", `share created for ${spec.recipients.length} recipient(s); links in Secret ${secretName}`);
      }
      view = await this.call<ShareView>(collectivity, "get", { id });
      const wanted = spec.recipients.map((r) => r.email.toLowerCase()).sort();
      if (view.state === "open" && JSON.stringify([...view.recipients].sort()) !== JSON.stringify(wanted)) {
        const changed = await this.call<{ links: Link[] }>(collectivity, "recipients", { id, recipients: spec.recipients });
        const links = (JSON.parse(unb64(secret.data?.["links.json"]) ?? "[]") as Link[]).filter((l) => wanted.includes(l.email));
        secret = await this.writeLinks(share, unb64(secret.data?.["upload-url"]) ?? "", [...links, ...changed.links]);
        await this.deps.events.record(share, "Normal", "LinksUpdated", `${changed.links.length} link(s) added; links of removed recipients revoked`);
        view = await this.call<ShareView>(collectivity, "get", { id });
      }
    } catch (error) {
      if (!(error instanceof ServiceCallError)) throw error;
      if (error.refused) {
        // The exchange said what is wrong (a limit of the collectivity): nothing to retry until the spec changes.
        return this.report(share, { state: "Failed" }, { type: conditionTypes.ready, status: "False", reason: reasons.rejected, message: error.detail });
      }
      if (error.conflict) {
        return this.report(share, { state: "Failed" }, { type: conditionTypes.ready, status: "False", reason: reasons.linksLost, message: "the share exists but its links were not saved; delete and create the SecureShare again" });
      }
      return this.report(share, { state: "Pending" }, { type: conditionTypes.ready, status: "False", reason: reasons.exchangeUnavailable, message: `the secure file exchange did not answer: ${error.message}` }, { requeueAfterMs: 15_000 });
    }
    const status: Partial<SecureShareStatus> = {
      state: view.state === "open" ? "Ready" : view.state === "revoked" ? "Revoked" : "Expired",
      expiresAt: view.expiresAt,
      files: view.files.length,
      totalBytes: view.totalBytes,
      downloads: view.downloads,
      linksSecret: secretName,
    };
    if (view.state === "open") {
      const untilExpiry = new Date(view.expiresAt).getTime() - (this.deps.now?.() ?? new Date()).getTime();
      // Looked at again exactly at expiry, and meanwhile to follow downloads.
      return this.report(share, status, { type: conditionTypes.ready, status: "True", reason: reasons.ready, message: `${view.files.length} file(s), expires ${view.expiresAt}` }, { requeueAfterMs: Math.max(0, Math.min(pollMs, untilExpiry + 50)) });
    }
    const reason = view.state === "revoked" ? reasons.revoked : view.state === "exhausted" ? reasons.downloadLimitReached : reasons.expired;
    return this.report(share, status, { type: conditionTypes.ready, status: "False", reason, message: `the share is ${view.state}; its content is deleted` });
  }

  /**
   * The password, or null when the Secret lacks the key (undefined Secret → not found error).
   * A Secret the platform manages (its labels say so) or a service account's token is never
   * read: a share's creator must not turn them into a password they could then probe.
   */
  private async password(namespace: string, name: string, key: string): Promise<string | null | typeof refusedSecret> {
    const secret = await this.deps.client.get<Secret>(resourceTypes.Secret, name, namespace);
    const managedBy = secret.metadata?.labels?.[labels.managedBy];
    if (managedBy === operatorName || secret.type === "kubernetes.io/service-account-token") return refusedSecret;
    return unb64(secret.data?.[key]) ?? null;
  }

  private writeLinks(share: SecureShare, uploadUrl: string, links: Link[]): Promise<Secret> {
    return this.deps.client.apply<Secret>(
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: {
          name: linksSecretName(share),
          namespace: share.metadata!.namespace,
          labels: { [labels.managedBy]: operatorName, [labels.partOf]: "mutualis" },
          ownerReferences: [{ apiVersion: "mutualis.fr/v1alpha1", kind: "SecureShare", name: share.metadata!.name!, uid: share.metadata!.uid!, controller: true, blockOwnerDeletion: true }],
        },
        type: "Opaque",
        data: {
          "upload-url": b64(uploadUrl),
          "links.json": b64(JSON.stringify(links)),
          ...Object.fromEntries(links.map((l) => [`link.${l.email.replace(/[^-._a-zA-Z0-9]/g, "_")}`, b64(l.url)])),
        },
      } as Secret,
      fieldManager,
    );
  }

  private async report(share: SecureShare, status: Partial<SecureShareStatus>, ready: ConditionUpdate, result?: Result): Promise<Result | undefined> {
    const previous = findCondition(share.status?.conditions as Condition[] | undefined, conditionTypes.ready);
    if (previous?.reason !== ready.reason) {
      await this.deps.events.record(share, ready.status === "True" ? "Normal" : "Warning", ready.status === "True" ? "ShareReady" : ready.reason, ready.message);
    }
    const conditions = setCondition(share.status?.conditions as Condition[] | undefined, ready, share.metadata?.generation, this.deps.now?.() ?? new Date());
    await writeStatus(this.deps.client, resourceTypes.SecureShare, share, { ...status, observedGeneration: share.metadata?.generation, conditions } as SecureShareStatus);
    return result;
  }

  private async ensureFinalizer(share: SecureShare): Promise<SecureShare> {
    const current = share.metadata?.finalizers ?? [];
    if (current.includes(shareFinalizer)) return share;
    return this.deps.client.mergePatch<SecureShare>(resourceTypes.SecureShare, share.metadata!.name!, share.metadata?.namespace, {
      metadata: { finalizers: [...current, shareFinalizer], resourceVersion: share.metadata?.resourceVersion },
    });
  }

  /** Revokes the share (its content is purged), then lets the resource go; its Secret goes with it. */
  private async finalize(share: SecureShare, collectivity: string | undefined, id: string): Promise<void> {
    const current = share.metadata?.finalizers ?? [];
    if (!current.includes(shareFinalizer)) return;
    if (collectivity) {
      try {
        await this.call(collectivity, "revoke", { id });
      } catch (error) {
        // A share never created (404) has nothing to purge; anything else is tried again.
        if (!/answered 404/.test((error as Error).message)) throw error;
      }
    }
    const remaining = current.filter((f) => f !== shareFinalizer);
    await this.deps.client
      .mergePatch(resourceTypes.SecureShare, share.metadata!.name!, share.metadata?.namespace, {
        metadata: { finalizers: remaining.length > 0 ? remaining : null, resourceVersion: share.metadata?.resourceVersion },
      })
      .catch((error: unknown) => (isNotFound(error) ? undefined : Promise.reject(error)));
  }
}
