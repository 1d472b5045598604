import type { KubernetesObject } from "@kubernetes/client-node";
import type { KubeClient } from "../kube/client.ts";
import { KubeApiError } from "../kube/errors.ts";
import type { ResourceType } from "../kube/resources.ts";
import type { Logger } from "./log.ts";

export type EventKind = "add" | "update" | "delete" | "resync";
export type Handler<T> = (kind: EventKind, object: T, old?: T) => void;

/** kubectl's copy of a whole object, kept in an annotation: as large as the object itself. */
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration";

/** The annotations without kubectl's copy of the object, which no controller reads. */
function withoutLastApplied(annotations: Record<string, string> | undefined): Record<string, string> | undefined {
  if (annotations?.[lastApplied] === undefined) return annotations;
  const { [lastApplied]: _dropped, ...rest } = annotations;
  return rest;
}

/**
 * managedFields (server-side apply's bookkeeping) is often the largest part of an object, and
 * kubectl's last-applied copy as large as the rest: no controller reads either, so the cache
 * drops them, as client-go's transform functions are used to.
 */
function withoutBookkeeping<T extends KubernetesObject>(object: T): T {
  const m = object.metadata;
  if (!m?.managedFields && m?.annotations?.[lastApplied] === undefined) return object;
  const { managedFields: _dropped, ...metadata } = m;
  const annotations = withoutLastApplied(m.annotations);
  if (annotations) metadata.annotations = annotations;
  return { ...object, metadata };
}

/**
 * One copy of the values that repeat across cached objects (a tenant's namespace, its owner's
 * name and uid, label values such as the manager's name): every JSON answer brings its own copy
 * of each, and a tenant has a dozen children. Bounded: past the bound, values are kept as they
 * come.
 */
const sharedStrings = new Map<string, string>();
const sharedStringsBound = 8192;

function shared(value: string): string {
  const known = sharedStrings.get(value);
  if (known !== undefined) return known;
  if (sharedStrings.size < sharedStringsBound && value.length <= 64) sharedStrings.set(value, value);
  return value;
}

function sharedValues(map: Record<string, string>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(map)) result[key] = shared(value);
  return result;
}

/**
 * What a metadata-only cache keeps of an object: who it is, its version, its labels and
 * annotations, its owners and whether it is going. Only these fields are copied, so nothing
 * else the API server adds (managedFields, timestamps) holds memory for every object.
 */
function slimMetadata<T extends KubernetesObject>(type: ResourceType, object: KubernetesObject): T {
  const m = object.metadata ?? {};
  const annotations = withoutLastApplied(m.annotations);
  const metadata: NonNullable<KubernetesObject["metadata"]> = { name: m.name };
  if (m.namespace) metadata.namespace = shared(m.namespace);
  if (m.uid) metadata.uid = m.uid;
  if (m.resourceVersion) metadata.resourceVersion = m.resourceVersion;
  if (m.generation !== undefined) metadata.generation = m.generation;
  if (m.labels) metadata.labels = sharedValues(m.labels);
  if (annotations && Object.keys(annotations).length > 0) metadata.annotations = annotations;
  if (m.ownerReferences) {
    metadata.ownerReferences = m.ownerReferences.map((o) => ({ ...o, apiVersion: shared(o.apiVersion), kind: shared(o.kind), name: shared(o.name), uid: shared(o.uid) }));
  }
  if (m.finalizers) metadata.finalizers = m.finalizers;
  if (m.deletionTimestamp) metadata.deletionTimestamp = m.deletionTimestamp;
  return { apiVersion: type.apiVersion, kind: type.kind, metadata } as T;
}

export function objectKey(object: KubernetesObject): string {
  const { namespace, name } = object.metadata ?? {};
  return namespace ? `${namespace}/${name}` : `${name}`;
}

export interface InformerOptions {
  readonly labelSelector?: string;
  /** For example `spec.nodeName=local-1`: a kubelet's view of the pods bound to its node. */
  readonly fieldSelector?: string;
  /** How often every cached object is handed to the handlers again, to catch anything missed. */
  readonly resyncMs?: number;
  /**
   * List and watch only the objects' metadata (PartialObjectMetadata), as client-go's metadata
   * informers do, for kinds whose content the controllers never read from the cache: a few
   * hundred bytes per object instead of the whole object.
   */
  readonly metadataOnly?: boolean;
}

/**
 * A cache of one kind kept current by list + watch, as client-go's informers do: it lists,
 * watches from the list's resourceVersion, lists again when the server answers 410 Gone, and
 * retries with backoff after any other failure. Handlers see adds, updates (only when the
 * resourceVersion changed), deletes, and a periodic resync of everything.
 */
export class Informer<T extends KubernetesObject> {
  private readonly objects = new Map<string, T>();
  private readonly handlers: Handler<T>[] = [];
  private resourceVersion = "";
  private abort = new AbortController();
  private running = false;
  private synced = false;
  private readonly syncedWaiters: (() => void)[] = [];
  private resyncTimer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly client: KubeClient,
    readonly type: ResourceType,
    private readonly log: Logger,
    private readonly options: InformerOptions = {},
  ) {}

  on(handler: Handler<T>): void {
    this.handlers.push(handler);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.objects.get(namespace ? `${namespace}/${name}` : name);
  }

  list(namespace?: string): T[] {
    const all = [...this.objects.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata?.namespace === namespace);
  }

  /** Whether the cache holds only the objects' metadata (see InformerOptions.metadataOnly). */
  get metadataOnly(): boolean {
    return this.options.metadataOnly ?? false;
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves once the first list has filled the cache. */
  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((r) => this.syncedWaiters.push(r));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.loop = this.run();
    if (this.options.resyncMs) {
      this.resyncTimer = setInterval(() => this.resync(), this.options.resyncMs);
      this.resyncTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.resyncTimer);
    this.abort.abort();
    await this.loop;
  }

  private emit(kind: EventKind, object: T, old?: T): void {
    for (const handler of this.handlers) {
      try {
        handler(kind, object, old);
      } catch (error) {
        this.log.error({ err: error, kind: this.type.kind }, "informer handler failed");
      }
    }
  }

  private resync(): void {
    for (const object of this.objects.values()) this.emit("resync", object);
  }

  private async relist(): Promise<void> {
    const list = await this.client.list<T>(this.type, this.selection());
    const seen = new Set<string>();
    for (const object of list.items) {
      const key = objectKey(object);
      seen.add(key);
      this.store(key, object);
    }
    for (const [key, object] of this.objects) {
      if (!seen.has(key)) {
        this.objects.delete(key);
        this.emit("delete", object);
      }
    }
    this.resourceVersion = list.metadata.resourceVersion ?? "";
    if (!this.synced) {
      this.synced = true;
      this.syncedWaiters.splice(0).forEach((r) => r());
    }
  }

  private selection(): { labelSelector?: string; fieldSelector?: string; metadataOnly?: boolean } {
    return { labelSelector: this.options.labelSelector, fieldSelector: this.options.fieldSelector, metadataOnly: this.options.metadataOnly };
  }

  /**
   * What the cache keeps of an object from a list or a watch event. Lists do not carry
   * apiVersion/kind on items, and metadata-only answers say PartialObjectMetadata: handlers and
   * owners need the object's own.
   */
  private cached(incoming: T): T {
    if (this.options.metadataOnly) return slimMetadata<T>(this.type, incoming);
    return withoutBookkeeping({ ...incoming, apiVersion: this.type.apiVersion, kind: this.type.kind });
  }

  private store(key: string, incoming: T): void {
    const object = this.cached(incoming);
    const old = this.objects.get(key);
    this.objects.set(key, object);
    if (!old) this.emit("add", object);
    else if (old.metadata?.resourceVersion !== object.metadata?.resourceVersion) this.emit("update", object, old);
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        if (!this.resourceVersion) await this.relist();
        if (!this.running) return;
        await this.client.watch<T>(
          this.type,
          this.resourceVersion,
          (event) => {
            const object = event.object;
            if (event.type === "BOOKMARK") {
              this.resourceVersion = object.metadata?.resourceVersion ?? this.resourceVersion;
              return;
            }
            const key = objectKey(object);
            if (event.type === "DELETED") {
              const old = this.objects.get(key);
              this.objects.delete(key);
              this.emit("delete", old ?? this.cached(object));
            } else {
              this.store(key, object);
            }
            this.resourceVersion = object.metadata?.resourceVersion ?? this.resourceVersion;
          },
          this.abort.signal,
          this.selection(),
        );
        failures = 0;
      } catch (error) {
        if (!this.running) return;
        if (error instanceof KubeApiError && error.gone) {
          this.log.debug({ kind: this.type.kind }, "watch expired (410 Gone), listing again");
          this.resourceVersion = "";
          continue;
        }
        failures++;
        const delay = Math.min(30_000, 200 * 2 ** Math.min(failures, 8));
        this.log.warn({ kind: this.type.kind, err: error, retryInMs: delay }, "watch failed, retrying");
        if (failures > 3) this.resourceVersion = "";
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }
}
