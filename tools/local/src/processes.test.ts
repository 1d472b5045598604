import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runningPid, startDaemon, StartError, stopDaemon, waitUntilReady, type Daemon } from "./processes.ts";

function shellDaemon(script: string): Daemon {
  const dir = mkdtempSync(join(tmpdir(), "mutualis-processes-"));
  return { name: "probe", command: "/bin/sh", args: ["-c", script], logFile: join(dir, "probe.log"), pidFile: join(dir, "probe.pid") };
}

describe("daemons", () => {
  it("when a daemon exits before it is ready, then the error names it and shows its log", async () => {
    const daemon = shellDaemon("echo 'listen: address already in use'; exit 1");
    startDaemon(daemon);
    const failure = waitUntilReady(daemon, async () => false, 10_000);
    await expect(failure).rejects.toBeInstanceOf(StartError);
    await expect(failure).rejects.toThrow(/probe: exited before it was ready[\s\S]*address already in use/);
  });

  it("when a daemon runs, then it is found by its pid file and stopped by stopDaemon", async () => {
    // Not "exec sleep": after an exec the process would run another program than the one started.
    const daemon = shellDaemon("while true; do sleep 0.2; done");
    const pid = startDaemon(daemon);
    expect(runningPid(daemon)).toBe(pid);
    expect(await stopDaemon(daemon, 5000)).toBe(true);
    expect(runningPid(daemon)).toBeUndefined();
  });

  it("when the pid file names a process running another program, then the daemon is not running", () => {
    const daemon = shellDaemon("true");
    writeFileSync(daemon.pidFile, `${process.pid}\n`);
    expect(runningPid(daemon)).toBeUndefined();
  });

  it("when a daemon ignores SIGTERM, then it is killed after the grace period", async () => {
    const daemon = shellDaemon("trap '' TERM; while true; do sleep 0.1; done");
    startDaemon(daemon);
    expect(await stopDaemon(daemon, 500)).toBe(true);
    expect(runningPid(daemon)).toBeUndefined();
  });
});
