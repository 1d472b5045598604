import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { arch, cpus, hostname, release, totalmem } from "node:os";
import { join } from "node:path";
import type { KubernetesObject } from "@kubernetes/client-node";
import { EventRecorder, Informer, isNotFound, resourceTypes, type KubeClient, type Logger } from "@mutualis/operator";
import { Container, type ContainerSpec, type ContainerStatus } from "./container.ts";
import { ConfigurationError, resolveEnv, type EnvContainer, type SourceLookup } from "./env.ts";
import { ImageError, programFor } from "./images.ts";

type PodContainer = ContainerSpec & EnvContainer & { args?: string[]; command?: string[]; volumeMounts?: { name: string; mountPath: string }[] };

type KeyItems = { key: string; path: string }[];

interface ProjectedSource {
  serviceAccountToken?: { path: string; expirationSeconds?: number; audience?: string };
  configMap?: { name: string; items?: KeyItems; optional?: boolean };
  secret?: { name: string; items?: KeyItems; optional?: boolean };
  downwardAPI?: { items: { path: string; fieldRef?: { fieldPath: string } }[] };
}

interface Volume {
  name: string;
  secret?: { secretName: string; items?: KeyItems; optional?: boolean };
  configMap?: { name: string; items?: KeyItems; optional?: boolean };
  emptyDir?: object;
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  /** What the ServiceAccount admission plugin adds: a token, the cluster's CA and the namespace. */
  projected?: { sources: ProjectedSource[] };
}

/** Where a container finds its API credentials in a cluster. */
export const serviceAccountMountPath = "/var/run/secrets/kubernetes.io/serviceaccount";
/** A bound token asked for this long is extended by the API server to a year (as the kubelet's are), so it is not renewed here. */
const tokenSeconds = 3607;

export interface Pod extends KubernetesObject {
  spec?: {
    nodeName?: string;
    restartPolicy?: "Always" | "OnFailure" | "Never";
    terminationGracePeriodSeconds?: number;
    serviceAccountName?: string;
    automountServiceAccountToken?: boolean;
    containers: PodContainer[];
    initContainers?: PodContainer[];
    volumes?: Volume[];
  };
  status?: {
    phase?: string;
    podIP?: string;
    startTime?: string;
    conditions?: { type: string; status: string; lastTransitionTime?: string; reason?: string; message?: string }[];
    containerStatuses?: ContainerStatus[];
  };
}

export interface NodeAgentOptions {
  readonly client: KubeClient;
  readonly log: Logger;
  readonly node: { readonly name: string; readonly zone: string; readonly region: string };
  /** The checkout whose services the pods run. */
  readonly root: string;
  /** Pod directories (logs, mounted Secrets) and pid files. */
  readonly stateDir: string;
  /** The services image's repository, without tag. */
  readonly servicesImage: string;
  /** Pod addresses are taken in 127.<a>.x.y. */
  readonly addressBlock: number;
  readonly backoffMs?: number;
  /** The port the agent's own /healthz listens on, reported as the kubelet's endpoint. */
  readonly port: number;
  /**
   * The API server, as pods reach it: the kubelet gives them KUBERNETES_SERVICE_HOST/PORT (the
   * `kubernetes` Service, which has no proxy here, so its real address).
   */
  readonly apiServer?: { readonly host: string; readonly port: number };
}

const agentVersion = "v1.36.3-mutualis-local";
const leaseNamespace = "kube-node-lease";
const leaseSeconds = 40;
const b64 = (value: string) => Buffer.from(value, "base64").toString("utf8");

/**
 * A kubelet for one node of the local platform: pods bound to the node run as local processes of
 * this checkout (see images.ts), each pod on its own loopback address. It registers the node,
 * keeps its lease, watches the node's pods, runs their containers with their resolved
 * environment and mounted Secrets, probes them, reports their status, restarts them with
 * back-off, and stops them gracefully when a pod is deleted.
 */
export class NodeAgent {
  private readonly pods: Informer<Pod>;
  private readonly workers = new Map<string, PodWorker>();
  private readonly addresses = new Map<string, string>();
  private readonly events: EventRecorder;
  private heartbeat: NodeJS.Timeout | undefined;
  private beats = 0;

  constructor(private readonly options: NodeAgentOptions) {
    this.pods = new Informer<Pod>(options.client, resourceTypes.Pod, options.log, { fieldSelector: `spec.nodeName=${options.node.name}`, resyncMs: 30_000 });
    this.events = new EventRecorder(options.client, "kubelet", options.node.name, options.log, 60_000);
  }

  async start(): Promise<void> {
    mkdirSync(join(this.options.stateDir, "pods"), { recursive: true, mode: 0o700 });
    this.reapOrphans();
    await this.register();
    await this.renewLease();
    this.heartbeat = setInterval(() => {
      this.renewLease().catch((error: unknown) => this.options.log.warn({ err: error }, "could not renew the node's lease"));
      // The node's status is written every minute; the lease is the frequent heartbeat.
      if (++this.beats % 6 === 0) this.register().catch((error: unknown) => this.options.log.warn({ err: error }, "could not update the node's status"));
    }, 10_000);
    this.pods.on((kind, pod) => {
      if (kind === "delete") void this.forget(pod);
      else this.sync(pod);
    });
    this.pods.start();
    await this.pods.waitForSync();
    this.options.log.info({ node: this.options.node.name, pods: this.pods.list().length }, "node agent started");
  }

  /** Stops every container (the pods stay bound; a new agent runs them again). */
  async stop(gracePeriodMs = 10_000): Promise<void> {
    clearInterval(this.heartbeat);
    await this.pods.stop();
    await Promise.all([...this.workers.values()].map((worker) => worker.stop(gracePeriodMs)));
    this.options.log.info("node agent stopped");
  }

  /** The processes a killed agent left behind: their pid files are in the pod directories. */
  private reapOrphans(): void {
    const podsDir = join(this.options.stateDir, "pods");
    for (const pod of readdirSync(podsDir)) {
      for (const file of readdirSync(join(podsDir, pod)).filter((f) => f.endsWith(".pid"))) {
        const pid = Number(readFileSync(join(podsDir, pod, file), "utf8"));
        try {
          if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("services/image/src/entrypoint.ts")) process.kill(-pid, "SIGKILL");
        } catch {
          // gone already
        }
        rmSync(join(podsDir, pod, file), { force: true });
      }
    }
  }

  private async register(): Promise<void> {
    const { client, node } = this.options;
    const metadata = {
      name: node.name,
      labels: {
        "kubernetes.io/hostname": node.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": arch() === "x64" ? "amd64" : arch(),
        "node.kubernetes.io/instance-type": "mutualis-local",
        "topology.kubernetes.io/region": node.region,
        "topology.kubernetes.io/zone": node.zone,
        type: "local",
      },
      annotations: { "node.alpha.kubernetes.io/ttl": "0" },
    };
    try {
      await client.get(resourceTypes.Node, node.name);
      await client.mergePatch(resourceTypes.Node, node.name, undefined, { metadata });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await client.create(resourceTypes.Node, { apiVersion: "v1", kind: "Node", metadata, spec: {} } as KubernetesObject);
    }
    const now = new Date().toISOString();
    const condition = (type: string, status: string, reason: string, message: string) => ({ type, status, reason, message, lastHeartbeatTime: now, lastTransitionTime: now });
    // Requests are bookkeeping here: the node offers four times the machine's CPUs, as a
    // development machine oversubscribes; memory is the machine's.
    const capacity = { cpu: String(cpus().length * 4), memory: `${Math.floor(totalmem() / 1024 / 1024)}Mi`, pods: "60", "ephemeral-storage": "50Gi" };
    await client.mergePatch(
      resourceTypes.Node,
      node.name,
      undefined,
      {
        status: {
          capacity,
          allocatable: capacity,
          conditions: [
            condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            condition("Ready", "True", "KubeletReady", "the Mutualis local node agent is posting ready status"),
          ],
          addresses: [
            { type: "InternalIP", address: "127.0.0.1" },
            { type: "Hostname", address: node.name },
          ],
          daemonEndpoints: { kubeletEndpoint: { Port: this.options.port } },
          nodeInfo: {
            machineID: "mutualis-local",
            systemUUID: "mutualis-local",
            bootID: hostname(),
            kernelVersion: release(),
            osImage: "Mutualis local node agent",
            containerRuntimeVersion: "mutualis-local://0.1.0",
            kubeletVersion: agentVersion,
            kubeProxyVersion: agentVersion,
            operatingSystem: "linux",
            architecture: metadata.labels["kubernetes.io/arch"],
          },
        },
      },
      "status",
    );
  }

  private async renewLease(): Promise<void> {
    const { client, node } = this.options;
    const renewTime = new Date().toISOString().replace("Z", "000Z");
    try {
      await client.mergePatch(resourceTypes.Lease, node.name, leaseNamespace, { spec: { renewTime, holderIdentity: node.name } });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await client.create(resourceTypes.Lease, {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: node.name, namespace: leaseNamespace },
        spec: { holderIdentity: node.name, leaseDurationSeconds: leaseSeconds, renewTime },
      } as KubernetesObject);
    }
  }

  private sync(pod: Pod): void {
    const uid = pod.metadata!.uid!;
    let worker = this.workers.get(uid);
    if (!worker) {
      if (["Succeeded", "Failed"].includes(pod.status?.phase ?? "")) return;
      worker = new PodWorker(pod, this.address(pod), this.options, this.events, () => this.release(uid));
      this.workers.set(uid, worker);
    }
    worker.sync(pod);
  }

  private async forget(pod: Pod): Promise<void> {
    const uid = pod.metadata!.uid!;
    await this.workers.get(uid)?.stop(0);
    this.release(uid);
  }

  private release(uid: string): void {
    this.workers.delete(uid);
    this.addresses.delete(uid);
  }

  /** The pod's loopback address: the one it already has, or the first free one. */
  private address(pod: Pod): string {
    const block = `127.${this.options.addressBlock}.`;
    const taken = new Set(this.addresses.values());
    const existing = pod.status?.podIP;
    let address = existing?.startsWith(block) && !taken.has(existing) ? existing : undefined;
    for (let i = 2; !address && i < 65_000; i++) {
      const candidate = `${block}${Math.floor(i / 256)}.${i % 256}`;
      if (i % 256 !== 0 && i % 256 !== 255 && !taken.has(candidate)) address = candidate;
    }
    if (!address) throw new Error("no free pod address left on this node");
    this.addresses.set(pod.metadata!.uid!, address);
    return address;
  }
}

/** One pod on the node: its directory, its containers, and the status written back. */
class PodWorker {
  private readonly containers = new Map<string, Container>();
  private readonly dir: string;
  private pod: Pod;
  private started = false;
  private terminating: Promise<void> | undefined;
  private writeTimer: NodeJS.Timeout | undefined;
  private lastWritten = "";
  private readonly startTime: string;

  constructor(
    pod: Pod,
    private readonly ip: string,
    private readonly options: NodeAgentOptions,
    private readonly events: EventRecorder,
    private readonly onGone: () => void,
  ) {
    this.pod = pod;
    this.startTime = pod.status?.startTime ?? new Date().toISOString();
    const meta = pod.metadata!;
    this.dir = join(options.stateDir, "pods", `${meta.namespace}_${meta.name}_${meta.uid}`);
  }

  sync(pod: Pod): void {
    this.pod = pod;
    if (pod.metadata?.deletionTimestamp) {
      this.terminating ??= this.terminate((pod.metadata.deletionGracePeriodSeconds ?? 30) * 1000);
      return;
    }
    if (!this.started) {
      this.started = true;
      void this.startAll();
    }
  }

  private async startAll(): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const spec = this.pod.spec!;
    if ((spec.initContainers ?? []).length > 0) this.event("Warning", "Unsupported", "init containers are not run by the local node agent");
    const previous = new Map((this.pod.status?.containerStatuses ?? []).map((s) => [s.name, s.restartCount]));
    for (const container of spec.containers) {
      const running = new Container(
        container,
        {
          restartPolicy: spec.restartPolicy ?? "Always",
          gracePeriodMs: (spec.terminationGracePeriodSeconds ?? 30) * 1000,
          backoffMs: this.options.backoffMs ?? 10_000,
          maxBackoffMs: 300_000,
          host: this.ip,
          onChange: () => this.scheduleWrite(),
          onEvent: (type, reason, message) => this.event(type, reason, message),
        },
        previous.get(container.name) ?? 0,
      );
      this.containers.set(container.name, running);
      await this.launch(container, running);
    }
    this.scheduleWrite();
  }

  /** Resolves the container's program, volumes and environment, then starts it; a failure waits and retries. */
  private async launch(container: PodContainer, running: Container): Promise<void> {
    if (this.terminating) return;
    try {
      const program = programFor(container, this.options.servicesImage, this.options.root);
      const mounts = await this.mountVolumes(container);
      const env = await resolveEnv(container, this.fields(), this.lookup());
      // Paths under a mount point are the pod's directory for that volume.
      for (const [name, value] of Object.entries(env)) {
        for (const [mountPath, local] of mounts) if (value === mountPath || value.startsWith(`${mountPath}/`)) env[name] = local + value.slice(mountPath.length);
      }
      Object.assign(env, this.clusterAccess(mounts, env));
      running.start({
        command: program.command,
        args: program.args,
        cwd: this.options.root,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOSTNAME: this.pod.metadata!.name!, ...env },
        logFile: join(this.dir, `${container.name}.log`),
      });
      if (running.pid) writeFileSync(join(this.dir, `${container.name}.pid`), String(running.pid));
    } catch (error) {
      if (error instanceof ImageError || error instanceof ConfigurationError) {
        running.fail(error.reason, error.message, () => void this.launch(container, running));
        return;
      }
      this.options.log.error({ err: error, pod: this.pod.metadata?.name }, "could not start a container");
      running.fail("RunContainerError", (error as Error).message, () => void this.launch(container, running));
    }
  }

  /**
   * In a cluster, a container reaches the API server at KUBERNETES_SERVICE_HOST/PORT with the
   * files mounted at serviceAccountMountPath. A process here cannot see that fixed path, so the
   * agent writes a kubeconfig naming the pod's own copies (the same token, CA and namespace) and
   * gives it as KUBECONFIG, unless the container sets one itself.
   */
  private clusterAccess(mounts: Map<string, string>, env: Record<string, string>): Record<string, string> {
    const api = this.options.apiServer;
    if (!api) return {};
    const access: Record<string, string> = { KUBERNETES_SERVICE_HOST: api.host, KUBERNETES_SERVICE_PORT: String(api.port), KUBERNETES_SERVICE_PORT_HTTPS: String(api.port) };
    const account = mounts.get(serviceAccountMountPath);
    if (!account || env.KUBECONFIG) return access;
    const file = join(this.dir, "kubeconfig");
    const kubeconfig = {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "in-cluster", cluster: { server: `https://${api.host}:${api.port}`, "certificate-authority": join(account, "ca.crt") } }],
      users: [{ name: "service-account", user: { "token-file": join(account, "token") } }],
      contexts: [{ name: "in-cluster", context: { cluster: "in-cluster", user: "service-account", namespace: this.pod.metadata!.namespace! } }],
      "current-context": "in-cluster",
    };
    writeFileSync(file, JSON.stringify(kubeconfig), { mode: 0o600 });
    return { ...access, KUBECONFIG: file };
  }

  /** A token for the pod's ServiceAccount, bound to the pod (deleted with it), asked of the API server. */
  private async serviceAccountToken(source: NonNullable<ProjectedSource["serviceAccountToken"]>): Promise<string> {
    const meta = this.pod.metadata!;
    const account = this.pod.spec?.serviceAccountName ?? "default";
    const response = await this.options.client.request<{ status: { token: string } }>({
      method: "POST",
      path: `/api/v1/namespaces/${meta.namespace}/serviceaccounts/${account}/token`,
      body: {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: {
          audiences: source.audience ? [source.audience] : [],
          expirationSeconds: source.expirationSeconds ?? tokenSeconds,
          boundObjectRef: { apiVersion: "v1", kind: "Pod", name: meta.name, uid: meta.uid },
        },
      },
    });
    return response.status.token;
  }

  private fields(): Record<string, string> {
    const meta = this.pod.metadata!;
    return {
      "metadata.name": meta.name!,
      "metadata.namespace": meta.namespace!,
      "metadata.uid": meta.uid!,
      "spec.nodeName": this.options.node.name,
      "spec.serviceAccountName": this.pod.spec?.serviceAccountName ?? "default",
      "status.podIP": this.ip,
      "status.podIPs": this.ip,
      "status.hostIP": "127.0.0.1",
    };
  }

  private lookup(): SourceLookup {
    const namespace = this.pod.metadata!.namespace!;
    const read = async (type: typeof resourceTypes.Secret | typeof resourceTypes.ConfigMap, name: string) => {
      try {
        const object = await this.options.client.get<KubernetesObject & { data?: Record<string, string> }>(type, name, namespace);
        const data = object.data ?? {};
        return type === resourceTypes.Secret ? Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])) : data;
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
    };
    return { secret: (name) => read(resourceTypes.Secret, name), configMap: (name) => read(resourceTypes.ConfigMap, name) };
  }

  /** Writes the container's Secret, ConfigMap and emptyDir volumes into the pod's directory. */
  private async mountVolumes(container: PodContainer): Promise<Map<string, string>> {
    const mounts = new Map<string, string>();
    const lookup = this.lookup();
    for (const mount of container.volumeMounts ?? []) {
      const volume = this.pod.spec?.volumes?.find((v) => v.name === mount.name);
      if (!volume) throw new ConfigurationError(`volume "${mount.name}" is not defined in the pod`);
      const local = join(this.dir, "volumes", volume.name);
      mkdirSync(local, { recursive: true, mode: 0o700 });
      if (volume.projected) {
        await this.project(volume.projected.sources, local);
        mounts.set(mount.mountPath.replace(/\/$/, ""), local);
        continue;
      }
      if (volume.persistentVolumeClaim) {
        mounts.set(mount.mountPath.replace(/\/$/, ""), await this.claimedDirectory(volume.persistentVolumeClaim.claimName));
        continue;
      }
      const source = volume.secret
        ? { kind: "secret", name: volume.secret.secretName, items: volume.secret.items, optional: volume.secret.optional, data: await lookup.secret(volume.secret.secretName) }
        : volume.configMap
          ? { kind: "configmap", name: volume.configMap.name, items: volume.configMap.items, optional: volume.configMap.optional, data: await lookup.configMap(volume.configMap.name) }
          : undefined;
      if (source) {
        if (!source.data && !source.optional) throw new ConfigurationError(`${source.kind} "${source.name}" not found`);
        const items = source.items ?? Object.keys(source.data ?? {}).map((key) => ({ key, path: key }));
        for (const item of items) {
          const value = source.data?.[item.key];
          // As the kubelet does: an optional source's missing key is left out, not an error.
          if (value === undefined && source.optional) continue;
          if (value === undefined) throw new ConfigurationError(`couldn't find key ${item.key} in ${source.kind} "${source.name}"`);
          if (item.path.split("/").includes("..")) throw new ConfigurationError(`volume item path ${item.path} leaves the volume`);
          mkdirSync(join(local, item.path, ".."), { recursive: true });
          writeFileSync(join(local, item.path), value, { mode: 0o600 });
        }
      }
      mounts.set(mount.mountPath.replace(/\/$/, ""), local);
    }
    return mounts;
  }

  /**
   * The directory of the PersistentVolume a claim is bound to: a `local` or `hostPath` volume on
   * this machine, which outlives the pod (its data is the claim's, not the pod's). The claim must
   * be bound; the kubelet waits for that too, and the scheduler does not place a pod before.
   */
  private async claimedDirectory(claimName: string): Promise<string> {
    const namespace = this.pod.metadata!.namespace!;
    const claim = await this.options.client
      .get<KubernetesObject & { spec?: { volumeName?: string }; status?: { phase?: string } }>(resourceTypes.PersistentVolumeClaim, claimName, namespace)
      .catch((error: unknown) => {
        if (isNotFound(error)) throw new ConfigurationError(`persistentvolumeclaim "${claimName}" not found`);
        throw error;
      });
    const volumeName = claim.spec?.volumeName;
    if (claim.status?.phase !== "Bound" || !volumeName) throw new ConfigurationError(`persistentvolumeclaim "${claimName}" is not bound to a volume yet`);
    const volume = await this.options.client.get<KubernetesObject & { spec?: { local?: { path: string }; hostPath?: { path: string } } }>(resourceTypes.PersistentVolume, volumeName);
    const path = volume.spec?.local?.path ?? volume.spec?.hostPath?.path;
    if (!path) throw new ConfigurationError(`persistentvolume "${volumeName}" is neither a local nor a hostPath volume: this node mounts only directories of its own`);
    mkdirSync(path, { recursive: true, mode: 0o700 });
    return path;
  }

  /** A projected volume's files: a bound token, ConfigMap and Secret keys, and the pod's own fields. */
  private async project(sources: readonly ProjectedSource[], local: string): Promise<void> {
    const lookup = this.lookup();
    const write = (path: string, value: string) => {
      if (path.split("/").includes("..")) throw new ConfigurationError(`volume item path ${path} leaves the volume`);
      mkdirSync(join(local, path, ".."), { recursive: true });
      writeFileSync(join(local, path), value, { mode: 0o600 });
    };
    for (const source of sources) {
      if (source.serviceAccountToken) {
        try {
          write(source.serviceAccountToken.path, await this.serviceAccountToken(source.serviceAccountToken));
        } catch (error) {
          throw new ConfigurationError(`cannot get a token for service account "${this.pod.spec?.serviceAccountName ?? "default"}": ${(error as Error).message}`);
        }
      }
      const keyed = source.configMap ?? source.secret;
      if (keyed) {
        const kind = source.configMap ? "configmap" : "secret";
        const data = source.configMap ? await lookup.configMap(keyed.name) : await lookup.secret(keyed.name);
        if (!data) {
          if (keyed.optional) continue;
          throw new ConfigurationError(`${kind} "${keyed.name}" not found`);
        }
        for (const item of keyed.items ?? Object.keys(data).map((key) => ({ key, path: key }))) {
          const value = data[item.key];
          if (value === undefined && keyed.optional) continue;
          if (value === undefined) throw new ConfigurationError(`couldn't find key ${item.key} in ${kind} "${keyed.name}"`);
          write(item.path, value);
        }
      }
      for (const item of source.downwardAPI?.items ?? []) {
        const value = item.fieldRef ? this.fields()[item.fieldRef.fieldPath] : undefined;
        if (value === undefined) throw new ConfigurationError(`unsupported downward API item ${item.path}`);
        write(item.path, value);
      }
    }
  }

  async stop(gracePeriodMs: number): Promise<void> {
    await Promise.all([...this.containers.values()].map((c) => c.stop(gracePeriodMs)));
    clearTimeout(this.writeTimer);
  }

  /** The pod is being deleted: stop its containers within its grace period, then remove it. */
  private async terminate(gracePeriodMs: number): Promise<void> {
    await this.stop(gracePeriodMs);
    await this.writeStatus().catch(() => undefined);
    const meta = this.pod.metadata!;
    try {
      await this.options.client.request({
        method: "DELETE",
        path: `/api/v1/namespaces/${meta.namespace}/pods/${meta.name}`,
        body: { apiVersion: "v1", kind: "DeleteOptions", gracePeriodSeconds: 0, preconditions: { uid: meta.uid } },
      });
    } catch (error) {
      if (!isNotFound(error) && !/Precondition failed|409/.test(String(error))) this.options.log.warn({ err: error, pod: meta.name }, "could not remove a stopped pod");
    }
    rmSync(this.dir, { recursive: true, force: true });
    this.onGone();
  }

  private event(type: "Normal" | "Warning", reason: string, message: string): void {
    void this.events.record(this.pod, type, reason, message);
  }

  private scheduleWrite(): void {
    clearTimeout(this.writeTimer);
    this.writeTimer = setTimeout(() => {
      this.writeStatus().catch((error: unknown) => {
        if (!isNotFound(error)) this.options.log.warn({ err: error, pod: this.pod.metadata?.name }, "could not write a pod's status");
      });
    }, 50);
  }

  /** The pod's status as the kubelet reports it, written when it changed. */
  private async writeStatus(): Promise<void> {
    const statuses = this.pod.spec!.containers.map((c) => this.containers.get(c.name)?.current).filter((s): s is ContainerStatus => s !== undefined);
    const allReady = statuses.length === this.pod.spec!.containers.length && statuses.every((s) => s.ready);
    const running = statuses.some((s) => "running" in s.state);
    const restarting = statuses.some((s) => s.restartCount > 0 && "waiting" in s.state);
    const terminated = statuses.length > 0 && statuses.every((s) => "terminated" in s.state);
    const phase = terminated
      ? statuses.every((s) => "terminated" in s.state && s.state.terminated.exitCode === 0)
        ? "Succeeded"
        : this.terminating
          ? "Running"
          : "Failed"
      : running || restarting
        ? "Running"
        : "Pending";
    const previous = this.pod.status?.conditions ?? [];
    const now = new Date().toISOString();
    const condition = (type: string, ok: boolean, reason?: string) => {
      const status = ok ? "True" : "False";
      const old = previous.find((c) => c.type === type);
      return { type, status, lastTransitionTime: old?.status === status ? old.lastTransitionTime : now, ...(ok || !reason ? {} : { reason }) };
    };
    const notReady = statuses.filter((s) => !s.ready).map((s) => s.name);
    const status = {
      phase,
      hostIP: "127.0.0.1",
      hostIPs: [{ ip: "127.0.0.1" }],
      podIP: this.ip,
      podIPs: [{ ip: this.ip }],
      startTime: this.startTime,
      conditions: [
        ...previous.filter((c) => !["Initialized", "Ready", "ContainersReady", "PodReadyToStartContainers"].includes(c.type)),
        condition("PodReadyToStartContainers", true),
        condition("Initialized", true),
        { ...condition("ContainersReady", allReady, "ContainersNotReady"), ...(allReady ? {} : { message: `containers with unready status: [${notReady.join(" ")}]` }) },
        { ...condition("Ready", allReady, "ContainersNotReady"), ...(allReady ? {} : { message: `containers with unready status: [${notReady.join(" ")}]` }) },
      ],
      containerStatuses: statuses,
    };
    const fingerprint = JSON.stringify({ ...status, conditions: status.conditions.map((c) => ({ ...c, lastTransitionTime: undefined })) });
    if (fingerprint === this.lastWritten) return;
    const meta = this.pod.metadata!;
    await this.options.client.mergePatch(resourceTypes.Pod, meta.name!, meta.namespace, { status }, "status");
    this.lastWritten = fingerprint;
  }
}
