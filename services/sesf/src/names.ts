import { basename } from "node:path";

/**
 * A file name a recipient may see: the last path component only (no `../`, no drive or
 * directory), without control or bidirectional-override characters, NFC, at most 200 characters
 * (keeping the extension). The file is stored under a random id, never under this name.
 */
export function safeFileName(raw: string): string {
  const last = basename(raw.replaceAll("\\", "/").normalize("NFC"));
  // eslint-disable-next-line no-control-regex
  const cleaned = last.replace(/[\u0000-\u001f\u007f\u202a-\u202e\u2066-\u2069<>:"|?*]/g, "_").replace(/^\.+/, "").trim();
  if (!cleaned) return "fichier";
  if (cleaned.length <= 200) return cleaned;
  const dot = cleaned.lastIndexOf(".");
  const extension = dot > 0 && cleaned.length - dot <= 12 ? cleaned.slice(dot) : "";
  return cleaned.slice(0, 200 - extension.length) + extension;
}

/** Content-Disposition for a download: an ASCII fallback and the exact name (RFC 6266 / 5987). */
export function contentDisposition(name: string): string {
  const ascii = name.normalize("NFD").replace(/[^\x20-\x7e]/g, "").replace(/["\\]/g, "_") || "fichier";
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}
