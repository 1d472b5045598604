import { departementOf, validateServiceInstanceSpec, type Collectivity, type ServiceInstance, type ServiceInstanceStatus } from "@mutualis/api";
import { conditionTypes, finalizers, reasons } from "../../constants.ts";
import type { KubernetesObject } from "@kubernetes/client-node";
import { catalogue } from "../../catalogue.ts";
import type { KubeClient } from "../../kube/client.ts";
import { isNotFound } from "../../kube/errors.ts";
import { resourceTypes } from "../../kube/resources.ts";
import { findCondition, setCondition, type Condition, type ConditionUpdate } from "../../runtime/conditions.ts";
import type { Reconciler, Request, Result } from "../../runtime/controller.ts";
import type { EventRecorder } from "../../runtime/events.ts";
import type { Informer } from "../../runtime/informer.ts";
import { reportReconcileFailure, writeStatus } from "../../runtime/status.ts";
import type { NatsAccounts } from "../../tenancy/nats-accounts.ts";
import { ServiceCallError, type ServiceClient } from "../../tenancy/service-client.ts";
import { desiredHashAnnotation, type Applier } from "../../runtime/apply.ts";
import { TenantDatabaseCredentials, TenantNatsCredentials } from "@mutualis/cdk8s";
import { dedicatedReadiness, renderDedicated, revisionOf, workloadName } from "./dedicated.ts";

export interface ServiceInstanceReconcilerDeps {
  readonly client: KubeClient;
  readonly events: EventRecorder;
  readonly instances: Informer<ServiceInstance>;
  readonly collectivities: Informer<Collectivity>;
  readonly nats: Pick<NatsAccounts, "importsOf" | "dedicatedOf">;
  /** The platform's services (enabling the collectivity on a shared deployment). */
  readonly services: Pick<ServiceClient, "platform">;
  readonly applier: Applier;
  /** Deployments the operator made for dedicated instances. */
  readonly deployments: Informer<KubernetesObject>;
  /** The tenants' Secrets the operator made (their NATS credentials among them). */
  readonly secrets?: Informer<KubernetesObject>;
  /** The services image, without its tag (the tag is the instance's version). */
  readonly servicesImage: string;
  /** Copies of the streams a dedicated deployment makes. */
  readonly natsStreamReplicas?: number;
  /** The platform's issuer, which dedicated deployments verify their callers' tokens with. */
  readonly identity?: { readonly issuer: string; readonly ca?: string };
  /** Where tenants reach services through the platform gateway. */
  readonly gatewayUrl: string;
  readonly now?: () => Date;
}

/** How often to look again while a shared service does not answer. */
const retryMs = 15_000;

/**
 * Turns a ServiceInstance into a service the collectivity can use. Shared tenancy: the
 * collectivity's NATS account imports the service from the platform services account (the
 * Collectivity controller writes that import), then the shared deployment is asked to enable
 * the collectivity; Ready when it has.
 */
export class ServiceInstanceReconciler implements Reconciler {
  constructor(private readonly deps: ServiceInstanceReconcilerDeps) {}

  /** A failed reconcile is said in status. */
  reportFailure(request: Request, error: unknown): Promise<void> {
    return reportReconcileFailure(this.deps.client, resourceTypes.ServiceInstance, request, error, this.deps.now?.() ?? new Date());
  }


  async reconcile({ name, namespace }: Request): Promise<Result | undefined> {
    let instance = this.deps.instances.get(name, namespace);
    if (!instance) return undefined;
    const spec = validateServiceInstanceSpec(instance.spec);
    const collectivityName = namespace?.startsWith("coll-") ? namespace.slice("coll-".length) : undefined;
    if (instance.metadata?.deletionTimestamp) {
      await this.finalize(instance, spec.service, collectivityName);
      return undefined;
    }
    const collectivity = collectivityName ? this.deps.collectivities.get(collectivityName) : undefined;
    let ready: ConditionUpdate;
    let result: Result | undefined;
    let readyReplicas: number | undefined;
    const provider = effectiveInstances(this.deps.instances.list(namespace)).find((si) => si.spec.service === spec.service);
    if (provider && provider.metadata?.uid !== instance.metadata?.uid) {
      ready = { type: conditionTypes.ready, status: "False", reason: reasons.duplicateService, message: `ServiceInstance ${provider.metadata!.name} already provides ${spec.service} to this collectivity; delete one of them` };
    } else if (!collectivity) {
      ready = { type: conditionTypes.ready, status: "False", reason: reasons.noCollectivity, message: `namespace ${namespace} belongs to no Collectivity; create ServiceInstances in a coll-<name> namespace` };
    } else if (!catalogue[spec.service].tenancies.includes(spec.tenancy ?? "shared")) {
      ready = { type: conditionTypes.ready, status: "False", reason: reasons.tenancyNotSupported, message: `${spec.service} runs only as ${catalogue[spec.service].tenancies.join(" or ")}` };
    } else if (spec.tenancy === "dedicated") {
      const replicas = collectivity.spec.suspended ? 0 : (spec.replicas ?? 1);
      const tenant = { name: collectivityName!, siren: collectivity.spec.siren, displayName: collectivity.spec.displayName, ...(collectivity.spec.actes ? { authority: collectivity.spec.actes } : {}) };
      // The pods read their NATS and database credentials at start: when the collectivity's
      // change (new permissions, a rotation), the revision on the pod template rolls them out.
      // The Secrets are cached as metadata: the hash of what the operator wrote in each stands for its content.
      const contentOf = (secret: string) => this.deps.secrets?.get(secret, namespace)?.metadata?.annotations?.[desiredHashAnnotation];
      const nats = contentOf(TenantNatsCredentials.secretName);
      const creds = nats ? nats + (contentOf(TenantDatabaseCredentials.secretName) ?? "") : undefined;
      const objects = renderDedicated(instance, spec, this.deps.servicesImage, replicas, tenant, {
        credentialsRevision: creds ? revisionOf(creds) : undefined,
        streamReplicas: this.deps.natsStreamReplicas,
        ...(this.deps.identity ? { identity: this.deps.identity } : {}),
      });
      for (const object of objects) await this.deps.applier.sync(object as KubernetesObject);
      const deployment = this.deps.deployments.get(workloadName(instance), namespace) as { metadata?: { generation?: number }; status?: object } | undefined;
      const pods = (await this.deps.client.list<KubernetesObject & { status?: object }>(resourceTypes.Pod, { namespace, labelSelector: `app.kubernetes.io/instance=${name}` })).items;
      const readiness = dedicatedReadiness(deployment?.metadata?.generation, deployment?.status as never, replicas, pods.map((p) => (p.status ?? {}) as never));
      readyReplicas = readiness.readyReplicas;
      ready = { type: conditionTypes.ready, status: readiness.status, reason: readiness.reason, message: readiness.message };
      // Pods crash-looping or waiting for their image change no Deployment: look again soon.
      if (readiness.status === "False" && readiness.reason !== "ScaledToZero") result = { requeueAfterMs: 5000 };
      if (readiness.status === "True" && !this.deps.nats.dedicatedOf(collectivityName!).includes(spec.service)) {
        ready = { type: conditionTypes.ready, status: "False", reason: reasons.progressing, message: `connecting the dedicated ${spec.service} deployment to the platform's NATS account` };
        result = { requeueAfterMs: 1000 };
      } else if (readiness.status === "True") {
        instance = await this.ensureFinalizer(instance);
        await this.standAside(spec.service, collectivityName!, collectivity);
      }
    } else if (findCondition(collectivity.status?.conditions as Condition[] | undefined, conditionTypes.ready)?.status !== "True") {
      ready = { type: conditionTypes.ready, status: "False", reason: reasons.collectivityNotReady, message: `Collectivity ${collectivityName} is not Ready` };
      result = { requeueAfterMs: retryMs };
    } else if (!this.deps.nats.importsOf(collectivityName!).includes(spec.service)) {
      ready = { type: conditionTypes.ready, status: "False", reason: reasons.progressing, message: `importing the shared ${spec.service} service into the collectivity's NATS account` };
      result = { requeueAfterMs: 1000 };
    } else {
      try {
        instance = await this.ensureFinalizer(instance);
        await this.deps.services.platform(spec.service, "tenants.enable", {
          collectivity: collectivityName,
          ...tenantOf(collectivity),
          settings: spec.settings ?? {},
        });
        ready = { type: conditionTypes.ready, status: "True", reason: reasons.ready, message: `enabled on the shared ${spec.service} service` };
      } catch (error) {
        if (error instanceof ServiceCallError && error.refused) {
          // The service said what is wrong with spec.settings: nothing to retry until they change.
          ready = { type: conditionTypes.ready, status: "False", reason: reasons.invalidSettings, message: error.detail };
        } else {
          ready = {
            type: conditionTypes.ready,
            status: "False",
            reason: reasons.sharedServiceUnavailable,
            message: `the shared ${spec.service} service did not enable the collectivity: ${(error as Error).message}`,
          };
          result = { requeueAfterMs: retryMs };
        }
      }
    }
    const conditions = setCondition(instance.status?.conditions as Condition[] | undefined, ready, instance.metadata?.generation, this.deps.now?.() ?? new Date());
    const status: ServiceInstanceStatus = {
      observedGeneration: instance.metadata?.generation,
      conditions,
      tenancy: spec.tenancy,
      ...(readyReplicas !== undefined ? { readyReplicas } : {}),
      url: `${this.deps.gatewayUrl}/api/v1/tenants/${collectivityName ?? "-"}/${spec.service}`,
    };
    const previous = findCondition(instance.status?.conditions as Condition[] | undefined, conditionTypes.ready);
    if (previous?.status !== ready.status || previous?.reason !== ready.reason) {
      await this.deps.events.record(instance, ready.status === "True" ? "Normal" : "Warning", ready.status === "True" ? "ServiceReady" : ready.reason, ready.message);
    }
    await writeStatus(this.deps.client, resourceTypes.ServiceInstance, instance, status);
    return result;
  }

  /**
   * Tells the shared deployment, if the platform runs one, that the collectivity has its own:
   * it stops answering the collectivity's subjects, which the dedicated deployment now serves.
   */
  private async standAside(service: string, collectivity: string, spec: Collectivity): Promise<void> {
    try {
      await this.deps.services.platform(service, "tenants.enable", {
        collectivity,
        ...tenantOf(spec),
        dedicated: true,
      });
    } catch {
      // No shared deployment of this service: nothing answers in the dedicated one's place.
    }
  }

  /** Held while a shared deployment has the collectivity enabled, so it can be told to stop. */
  private async ensureFinalizer(instance: ServiceInstance): Promise<ServiceInstance> {
    const current = instance.metadata?.finalizers ?? [];
    if (current.includes(serviceFinalizer)) return instance;
    // The patched object carries the new resourceVersion the status write needs.
    return this.deps.client.mergePatch<ServiceInstance>(resourceTypes.ServiceInstance, instance.metadata!.name!, instance.metadata?.namespace, {
      metadata: { finalizers: [...current, serviceFinalizer], resourceVersion: instance.metadata?.resourceVersion },
    });
  }

  /**
   * Tells the shared deployment to stop serving the collectivity (its data stays); the NATS import
   * is already revoked, since the Collectivity controller leaves instances being deleted out.
   */
  private async finalize(instance: ServiceInstance, service: string, collectivity: string | undefined): Promise<void> {
    const current = instance.metadata?.finalizers ?? [];
    if (!current.includes(serviceFinalizer)) return;
    if (collectivity) {
      try {
        await this.deps.services.platform(service, "tenants.disable", { collectivity });
      } catch (error) {
        // A dedicated instance may have no shared deployment to tell.
        if (instance.spec.tenancy !== "dedicated") await this.deps.events.record(instance, "Warning", reasons.disableFailed, `the shared ${service} service was not told (${(error as Error).message}); the collectivity's access is revoked all the same`);
      }
    }
    const remaining = current.filter((f) => f !== serviceFinalizer);
    await this.deps.client
      .mergePatch(resourceTypes.ServiceInstance, instance.metadata!.name!, instance.metadata?.namespace, {
        metadata: { finalizers: remaining.length > 0 ? remaining : null, resourceVersion: instance.metadata?.resourceVersion },
      })
      .catch((error: unknown) => (isNotFound(error) ? undefined : Promise.reject(error)));
  }
}

const serviceFinalizer = finalizers.serviceInstance;

/**
 * One instance per service and collectivity: of several asking for the same service, the oldest
 * (then the first by name) provides it; the others say so in Ready and change nothing.
 */
export function effectiveInstances(instances: readonly ServiceInstance[]): ServiceInstance[] {
  const byService = new Map<string, ServiceInstance>();
  const live = instances.filter((si) => !si.metadata?.deletionTimestamp);
  const age = (si: ServiceInstance) => `${si.metadata?.creationTimestamp ? new Date(si.metadata.creationTimestamp as unknown as string).toISOString() : "9"}/${si.metadata?.name}`;
  for (const si of [...live].sort((a, b) => age(a).localeCompare(age(b)))) if (!byService.has(si.spec.service)) byService.set(si.spec.service, si);
  return [...byService.values()];
}

/**
 * What a shared service is told of a collectivity when it is enabled: its SIREN and name, and its
 * authority as the State knows it (the prefecture's département, arrondissement and @ctes nature,
 * the SIRET of its seat) when the Collectivity declares it.
 */
export function tenantOf(collectivity: Collectivity) {
  const { siren, displayName, actes } = collectivity.spec;
  return { siren, displayName, departement: actes?.departement ?? departementOf(siren), ...(actes ? { authority: actes } : {}) };
}
