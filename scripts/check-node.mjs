// Fails early, with a clear message, on a Node.js the project does not support.
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`Mutualis needs Node.js 20.19 or newer; this is ${process.version}.`);
  process.exit(1);
}
