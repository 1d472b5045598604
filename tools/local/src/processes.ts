import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** A long-running program of the platform, started detached so it outlives `make up`. */
export interface Daemon {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** For interpreted programs (node), an argument that tells this daemon from other processes of the interpreter. */
  readonly marker?: string;
  readonly logFile: string;
  readonly pidFile: string;
  /** The user and group it runs as (PostgreSQL refuses to run as root). */
  readonly user?: { readonly uid: number; readonly gid: number };
  /** What asks it to stop; SIGTERM unless said (PostgreSQL's SIGTERM waits for its clients to leave). */
  readonly stopSignal?: NodeJS.Signals;
}

export class StartError extends Error {
  override name = "StartError";
  constructor(
    readonly component: string,
    message: string,
    readonly logTail: string,
  ) {
    super(`${component}: ${message}` + (logTail ? `\n--- last lines of its log ---\n${logTail}` : ""));
  }
}

/**
 * The pid recorded for a daemon, if that process is still alive and still runs its program. Only
 * the program is compared, not its flags: a platform started before a flag changed must still
 * be found, and stopped, by `make down`.
 */
export function runningPid(daemon: Pick<Daemon, "pidFile" | "command" | "marker">): number | undefined {
  if (!existsSync(daemon.pidFile)) return undefined;
  const pid = Number(readFileSync(daemon.pidFile, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  // A recycled pid would belong to some other program: check what it runs.
  return runsDaemon(pid, daemon) ? pid : undefined;
}

/** How the daemons this process started ended, by pid: what a daemon that left no log says of its end. */
const endings = new Map<number, string>();

export function startDaemon(daemon: Daemon): number {
  mkdirSync(dirname(daemon.logFile), { recursive: true });
  mkdirSync(dirname(daemon.pidFile), { recursive: true });
  const log = openSync(daemon.logFile, "a");
  try {
    writeFileSync(log, `\n=== ${new Date().toISOString()} starting ${daemon.command} ${daemon.args.join(" ")}\n`);
    const child = spawn(daemon.command, daemon.args, {
      detached: true,
      stdio: ["ignore", log, log],
      env: daemon.env ?? process.env,
      cwd: daemon.cwd,
      ...(daemon.user ?? {}),
    });
    if (child.pid === undefined) throw new StartError(daemon.name, `could not run ${daemon.command}`, "");
    child.once("exit", (code, signal) => endings.set(child.pid!, signal ? `killed by ${signal}` : `exit code ${code}`));
    child.unref();
    writeFileSync(daemon.pidFile, String(child.pid) + "\n");
    return child.pid;
  } finally {
    closeSync(log);
  }
}

/** A process that has exited but not yet been reaped by its parent (a zombie) counts as gone. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The state follows the parenthesised command name, which may itself contain spaces.
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Sends SIGTERM to the daemon's process group, then SIGKILL if it has not exited in time. */
export async function stopDaemon(
  daemon: Pick<Daemon, "pidFile" | "command" | "marker" | "stopSignal">,
  graceMs = 15_000,
): Promise<boolean> {
  const pid = runningPid(daemon);
  if (pid === undefined) {
    rmSync(daemon.pidFile, { force: true });
    return false;
  }
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    }
  };
  signal(daemon.stopSignal ?? "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  if (alive(pid)) {
    signal("SIGKILL");
    while (alive(pid)) await sleep(50);
  }
  rmSync(daemon.pidFile, { force: true });
  return true;
}

export function tailLog(file: string, lines = 25): string {
  if (!existsSync(file)) return "";
  return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}

/**
 * Polls `check` until it answers true. Fails with the daemon's log tail when the deadline
 * passes or the process dies on the way.
 */
export async function waitUntilReady(
  daemon: Daemon,
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pid = recordedPid(daemon.pidFile);
  for (;;) {
    if (await check().catch(() => false)) return;
    if (runningPid(daemon) === undefined) {
      const ending = endings.get(pid ?? -1);
      throw new StartError(daemon.name, `exited before it was ready${ending ? ` (${ending})` : ""}${diskNote(daemon.logFile)}`, tailLog(daemon.logFile));
    }
    if (Date.now() > deadline) {
      throw new StartError(daemon.name, `not ready after ${Math.round(timeoutMs / 1000)}s`, tailLog(daemon.logFile));
    }
    await sleep(250);
  }
}

function recordedPid(pidFile: string): number | undefined {
  try {
    return Number(readFileSync(pidFile, "utf8").trim()) || undefined;
  } catch {
    return undefined;
  }
}

/** The least free space the platform starts with: its stores and logs grow on that disk. */
export const minimumFreeBytes = 2 * 1024 ** 3;

/** The MiB free on the disk holding a directory when below the platform's minimum, else undefined. */
export function lowDiskMiB(dir: string): number | undefined {
  try {
    const stats = statfsSync(dir);
    const free = stats.bavail * stats.bsize;
    return free < minimumFreeBytes ? Math.floor(free / 1024 ** 2) : undefined;
  } catch {
    return undefined;
  }
}

function diskNote(file: string): string {
  const free = lowDiskMiB(dirname(file));
  return free === undefined ? "" : `, with only ${free} MiB free on its disk`;
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function portInUse(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = createConnection({ port, host });
    socket.once("connect", () => {
      socket.destroy();
      resolvePromise(true);
    });
    socket.once("error", () => resolvePromise(false));
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolvePromise(false);
    });
  });
}

/** The pids of processes listening on a TCP port, found through /proc (Linux). */
export function listeningPids(port: number): number[] {
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      // State 0A is LISTEN; the port is the hex number after the colon.
      if (!local || fields[3] !== "0A" || parseInt(local.split(":")[1] ?? "", 16) !== port) continue;
      if (fields[9]) inodes.add(fields[9]);
    }
  }
  if (inodes.size === 0) return [];
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      for (const fd of readdirSync(`/proc/${entry}/fd`)) {
        const target = readlinkSync(`/proc/${entry}/fd/${fd}`);
        const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
        if (inode && inodes.has(inode)) {
          pids.push(Number(entry));
          break;
        }
      }
    } catch {
      // a process that exited meanwhile, or one we may not inspect
    }
  }
  return pids;
}

/**
 * True when `pid` runs the daemon's program, as it was started (the path it was given, so a
 * process started before a rebuild of the binary cache is still recognised), and, for node
 * programs, with the daemon's marker argument. A zombie has no command line: it does not count.
 */
export function runsDaemon(pid: number, daemon: Pick<Daemon, "command" | "marker">): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    if (cmdline[0] !== daemon.command) return false;
    return daemon.marker === undefined || cmdline.includes(daemon.marker);
  } catch {
    return false;
  }
}
