import { describe, expect, it } from "vitest";
import { ImageError, parseImage, programFor } from "./images.ts";

const image = "registry.mutualis.invalid/mutualis/services";

describe("programFor", () => {
  it("when a pod runs the services image, then the agent runs the image's entrypoint of this checkout with the pod's arguments", () => {
    const program = programFor({ image: `${image}:1.2.0`, args: ["actes"] }, image, "/repo");
    expect(program.command).toBe(process.execPath);
    expect(program.args).toEqual(["--import", "tsx", "/repo/services/image/src/entrypoint.ts", "actes"]);
  });

  it("when a pod runs another image, then it cannot be pulled, as on a node without its registry", () => {
    expect(() => programFor({ image: "docker.io/library/nginx:1.27" }, image, "/repo")).toThrow(ImageError);
    try {
      programFor({ image: "docker.io/library/nginx:1.27" }, image, "/repo");
    } catch (error) {
      expect((error as ImageError).reason).toBe("ErrImagePull");
    }
    expect(() => programFor({ image: "Not An Image" }, image, "/repo")).toThrow(/not a valid image reference/);
  });

  it("when an image has a registry port, a tag or a digest, then its repository is read correctly", () => {
    expect(parseImage("localhost:5000/mutualis/services:1.0.0")).toEqual({ repository: "localhost:5000/mutualis/services", tag: "1.0.0" });
    expect(parseImage("localhost:5000/mutualis/services")).toEqual({ repository: "localhost:5000/mutualis/services", tag: "latest" });
    expect(parseImage("r.example/s:1@sha256:abc").repository).toBe("r.example/s");
  });
});
