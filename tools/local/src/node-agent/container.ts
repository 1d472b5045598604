import { spawn, type ChildProcess } from "node:child_process";
import { openSync, closeSync } from "node:fs";
import { probeOnce, type Probe } from "./probes.ts";

export type ContainerState =
  | { waiting: { reason: string; message?: string } }
  | { running: { startedAt: string } }
  | { terminated: { exitCode: number; signal?: number; reason: string; message?: string; startedAt?: string; finishedAt: string; containerID?: string } };

export interface ContainerSpec {
  name: string;
  image?: string;
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
}

export interface ContainerStatus {
  name: string;
  image: string;
  imageID: string;
  containerID?: string;
  ready: boolean;
  started: boolean;
  restartCount: number;
  state: ContainerState;
  lastState: Partial<ContainerState>;
}

/** What a container runs, once its image and environment are resolved. */
export interface Launch {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: Record<string, string>;
  readonly cwd: string;
  readonly logFile: string;
}

export interface ContainerOptions {
  readonly restartPolicy: "Always" | "OnFailure" | "Never";
  readonly gracePeriodMs: number;
  /** The kubelet waits 10 s after the second crash, doubling to 5 min. */
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
  /** The pod's address, where probes are sent. */
  readonly host: string;
  readonly onChange: () => void;
  readonly onEvent: (type: "Normal" | "Warning", reason: string, message: string) => void;
}

const now = () => new Date().toISOString();
/** Runs that lasted this long reset the back-off, as the kubelet's do. */
const stableRunMs = 10 * 60_000;

/**
 * One container of a pod, run as a local process: started, probed, restarted with back-off after
 * it exits (per the pod's restart policy), and stopped gracefully (SIGTERM, then SIGKILL after
 * the grace period). Its status is the kubelet's container status.
 */
export class Container {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  private crashes = 0;
  private startedAtMs = 0;
  private readonly status: ContainerStatus;
  private probeState = { readyOk: 0, readyFail: 0, liveFail: 0, started: false };

  constructor(
    private readonly spec: ContainerSpec,
    private readonly options: ContainerOptions,
    restartCount: number,
  ) {
    this.status = {
      name: spec.name,
      image: spec.image ?? "",
      imageID: "",
      ready: false,
      started: false,
      restartCount,
      state: { waiting: { reason: "ContainerCreating" } },
      lastState: {},
    };
  }

  get current(): ContainerStatus {
    return structuredClone(this.status);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The container cannot run (image, configuration): it waits with the kubelet's reason and retries later. */
  fail(reason: string, message: string, retry: () => void): void {
    this.status.state = { waiting: { reason, message } };
    this.status.ready = false;
    this.options.onEvent("Warning", "Failed", `Error: ${message}`);
    this.options.onChange();
    const pullBackOff = reason === "ErrImagePull" ? "ImagePullBackOff" : reason;
    this.later(Math.min(this.options.backoffMs * 2 ** Math.min(this.crashes++, 5), this.options.maxBackoffMs), () => {
      if (pullBackOff !== reason) {
        this.status.state = { waiting: { reason: pullBackOff, message: `Back-off pulling image "${this.spec.image}": ${message}` } };
        this.options.onChange();
      }
      retry();
    });
  }

  start(launch: Launch): void {
    if (this.stopped) return;
    const log = openSync(launch.logFile, "a", 0o600);
    const child = spawn(launch.command, [...launch.args], {
      cwd: launch.cwd,
      env: launch.env,
      stdio: ["ignore", log, log],
      // Its own process group, so stopping it reaches anything it started.
      detached: true,
    });
    closeSync(log);
    this.child = child;
    this.startedAtMs = Date.now();
    this.probeState = { readyOk: 0, readyFail: 0, liveFail: 0, started: false };
    this.status.containerID = `local://${child.pid}`;
    this.status.state = { running: { startedAt: new Date(this.startedAtMs).toISOString() } };
    this.status.ready = false;
    this.status.started = !this.spec.startupProbe;
    this.options.onEvent("Normal", "Started", `Started container ${this.spec.name}`);
    this.options.onChange();
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.onExit(launch, code, signal);
        resolve();
      });
      child.once("error", (error) => {
        this.status.state = { waiting: { reason: "RunContainerError", message: error.message } };
        this.options.onChange();
        resolve();
      });
    });
    this.scheduleProbes();
  }

  private onExit(launch: Launch, code: number | null, signal: NodeJS.Signals | null): void {
    this.child = undefined;
    this.clearTimers();
    const exitCode = code ?? 128 + (signal ? signalNumber(signal) : 9);
    const startedAt = new Date(this.startedAtMs).toISOString();
    const terminated = {
      exitCode,
      reason: exitCode === 0 ? "Completed" : "Error",
      startedAt,
      finishedAt: now(),
      containerID: this.status.containerID,
    };
    this.status.ready = false;
    this.status.started = false;
    if (this.stopped) {
      this.status.state = { terminated };
      this.options.onChange();
      return;
    }
    const restart = this.options.restartPolicy === "Always" || (this.options.restartPolicy === "OnFailure" && exitCode !== 0);
    if (!restart) {
      this.status.state = { terminated };
      this.options.onChange();
      return;
    }
    if (Date.now() - this.startedAtMs > stableRunMs) this.crashes = 0;
    const delay = this.crashes === 0 ? 0 : Math.min(this.options.backoffMs * 2 ** (this.crashes - 1), this.options.maxBackoffMs);
    this.crashes++;
    this.status.lastState = { terminated };
    this.status.restartCount++;
    if (delay > 0) {
      this.status.state = { waiting: { reason: "CrashLoopBackOff", message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${this.spec.name}` } };
      this.options.onEvent("Warning", "BackOff", "Back-off restarting failed container");
    } else {
      this.status.state = { waiting: { reason: "ContainerCreating" } };
    }
    this.options.onChange();
    this.later(delay, () => this.start(launch));
  }

  private scheduleProbes(): void {
    const { readinessProbe, livenessProbe, startupProbe } = this.spec;
    const ports = this.spec.ports ?? [];
    const loop = (probe: Probe, onResult: (result: true | string) => void) => {
      const tick = async () => {
        if (!this.child) return;
        onResult(await probeOnce(probe, this.options.host, ports));
        if (this.child) this.later((probe.periodSeconds ?? 10) * 1000, () => void tick());
      };
      this.later((probe.initialDelaySeconds ?? 0) * 1000, () => void tick());
    };
    const afterStartup = () => {
      this.probeState.started = true;
      this.status.started = true;
      if (!readinessProbe) this.setReady(true);
      if (readinessProbe) {
        loop(readinessProbe, (result) => {
          if (result === true) {
            this.probeState.readyFail = 0;
            if (++this.probeState.readyOk >= (readinessProbe.successThreshold ?? 1)) this.setReady(true);
          } else {
            this.probeState.readyOk = 0;
            if (++this.probeState.readyFail >= (readinessProbe.failureThreshold ?? 3) || !this.status.ready) {
              if (this.status.ready) this.options.onEvent("Warning", "Unhealthy", `Readiness probe failed: ${result}`);
              this.setReady(false);
            }
          }
        });
      }
      if (livenessProbe) {
        loop(livenessProbe, (result) => {
          if (result === true) {
            this.probeState.liveFail = 0;
            return;
          }
          if (++this.probeState.liveFail < (livenessProbe.failureThreshold ?? 3)) return;
          this.options.onEvent("Warning", "Unhealthy", `Liveness probe failed: ${result}`);
          this.options.onEvent("Normal", "Killing", `Container ${this.spec.name} failed liveness probe, will be restarted`);
          void this.terminate();
        });
      }
    };
    if (!startupProbe) {
      afterStartup();
      return;
    }
    let failures = 0;
    const check = async () => {
      if (!this.child) return;
      const result = await probeOnce(startupProbe, this.options.host, ports);
      if (result === true) return afterStartup();
      if (++failures >= (startupProbe.failureThreshold ?? 3)) {
        this.options.onEvent("Warning", "Unhealthy", `Startup probe failed: ${result}`);
        void this.terminate();
        return;
      }
      this.later((startupProbe.periodSeconds ?? 10) * 1000, () => void check());
    };
    this.later((startupProbe.initialDelaySeconds ?? 0) * 1000, () => void check());
  }

  private setReady(ready: boolean): void {
    if (this.status.ready === ready) return;
    this.status.ready = ready;
    this.options.onChange();
  }

  /** SIGTERM to the process group, SIGKILL after the grace period; resolves when it has exited. */
  private async terminate(gracePeriodMs = this.options.gracePeriodMs): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    signalGroup(child.pid, "SIGTERM");
    const kill = setTimeout(() => signalGroup(child.pid!, "SIGKILL"), gracePeriodMs);
    await this.exited;
    clearTimeout(kill);
  }

  /** Stops for good (the pod is being deleted, or the agent stops). */
  async stop(gracePeriodMs = this.options.gracePeriodMs): Promise<void> {
    this.stopped = true;
    this.clearTimers();
    if (this.child) this.options.onEvent("Normal", "Killing", `Stopping container ${this.spec.name}`);
    await this.terminate(gracePeriodMs);
  }

  private later(ms: number, work: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopped) work();
    }, ms);
    this.timers.add(timer);
  }

  private clearTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGSEGV: 11, SIGTERM: 15 };
  return numbers[signal] ?? 9;
}
