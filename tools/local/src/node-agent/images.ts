import { join } from "node:path";

/** How the agent runs one container: a Node.js program of this checkout, with its arguments. */
export interface ContainerProgram {
  readonly command: string;
  readonly args: readonly string[];
}

export class ImageError extends Error {
  override name = "ImageError";
  constructor(
    /** The kubelet's waiting reason: ErrImagePull, InvalidImageName, RunContainerError. */
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** `repository[:tag][@digest]` → repository and tag. */
export function parseImage(image: string): { repository: string; tag: string } {
  if (!/^[a-z0-9]+([._\-/:@][a-zA-Z0-9_.-]+)*$/.test(image)) throw new ImageError("InvalidImageName", `"${image}" is not a valid image reference`);
  const withoutDigest = image.split("@")[0]!;
  const slash = withoutDigest.lastIndexOf("/");
  const colon = withoutDigest.lastIndexOf(":");
  return colon > slash ? { repository: withoutDigest.slice(0, colon), tag: withoutDigest.slice(colon + 1) } : { repository: withoutDigest, tag: "latest" };
}

/**
 * The one image the agent can run is the services image: its entrypoint is
 * services/image/src/entrypoint.ts of this checkout, run by the same Node.js as the agent. Any
 * tag runs the checkout's code (a version change still rolls out new pods). Another image cannot
 * be pulled, as on a node without access to its registry.
 */
export function programFor(
  container: { image?: string; command?: string[]; args?: string[] },
  servicesImage: string,
  root: string,
): ContainerProgram {
  const image = container.image ?? "";
  const { repository } = parseImage(image);
  if (repository !== servicesImage) {
    throw new ImageError("ErrImagePull", `image "${image}" is not available on this node: the local node agent runs only ${servicesImage}`);
  }
  if (container.command && container.command.length > 0) {
    throw new ImageError("RunContainerError", "the local node agent runs the services image's own entrypoint; do not set command");
  }
  return { command: process.execPath, args: ["--import", "tsx", join(root, "services/image/src/entrypoint.ts"), ...(container.args ?? [])] };
}
