import { describe, expect, it } from "vitest";
import { ConfigError, defaultPorts, loadConfig } from "./config.ts";

describe("loadConfig", () => {
  it("when nothing is set, then the default ports avoid the standard ones", () => {
    const config = loadConfig({}, "/repo");
    expect(config.ports).toEqual(defaultPorts);
    const standard = [2379, 2380, 4222, 5432, 6379, 6443, 8080, 8222, 9090, 10250, 10257, 10259, 27017];
    expect(Object.values(config.ports).filter((p) => standard.includes(p))).toEqual([]);
    expect(config.dir).toBe("/repo/.local");
    expect(config.unsafeFastStorage).toBe(false);
  });

  it("when an offset is set, then every port moves by it", () => {
    const config = loadConfig({ MUTUALIS_PORT_OFFSET: "1000" }, "/repo");
    expect(config.ports.apiServer).toBe(defaultPorts.apiServer + 1000);
    expect(config.ports.nats).toBe(defaultPorts.nats + 1000);
  });

  it("when one port is set by name, then only that port changes", () => {
    const config = loadConfig({ MUTUALIS_PORT_API_SERVER: "26443" }, "/repo");
    expect(config.ports.apiServer).toBe(26443);
    expect(config.ports.etcd).toBe(defaultPorts.etcd);
  });

  it("when a port is not a port, then the error names the setting", () => {
    expect(() => loadConfig({ MUTUALIS_PORT_NATS: "seventy" }, "/repo")).toThrow(
      new ConfigError('MUTUALIS_PORT_NATS must be a TCP port between 1 and 65535, got "seventy"'),
    );
  });

  it("when two components would share a port, then the error names both", () => {
    expect(() => loadConfig({ MUTUALIS_PORT_NATS: String(defaultPorts.etcd) }, "/repo")).toThrow(
      /MUTUALIS_PORT_NATS and MUTUALIS_PORT_ETCD both use port 16379/,
    );
  });

  it("when the offset is negative, then it is refused", () => {
    expect(() => loadConfig({ MUTUALIS_PORT_OFFSET: "-5" }, "/repo")).toThrow(ConfigError);
  });

  it("when a directory is given, then it is resolved against the repository", () => {
    expect(loadConfig({ MUTUALIS_LOCAL_DIR: ".local/other" }, "/repo").dir).toBe("/repo/.local/other");
  });
});
