import { describe, expect, it } from "vitest";
import { contentDisposition, safeFileName } from "./names.ts";

describe("file names", () => {
  it.each([
    ["../../etc/passwd", "passwd"],
    ["C:\\Users\\agent\\délibération.pdf", "délibération.pdf"],
    ["..", "fichier"],
    [".bashrc", "bashrc"],
    ["rapport\u202egpj.exe", "rapport_gpj.exe"],
    ["a\u0000b\nc.pdf", "a_b_c.pdf"],
    ["e\u0301te\u0301.pdf", "été.pdf"],
  ])("when a file is named %j, then recipients see %j", (raw, safe) => {
    expect(safeFileName(raw)).toBe(safe);
  });

  it("when a name is very long, then it is cut to 200 characters, keeping its extension", () => {
    const name = safeFileName(`${"x".repeat(300)}.pdf`);
    expect(name).toHaveLength(200);
    expect(name.endsWith(".pdf")).toBe(true);
  });

  it("when a name has quotes or accents, then the header stays well formed and carries the exact name", () => {
    expect(contentDisposition('délib "finale".pdf')).toBe(`attachment; filename="delib _finale_.pdf"; filename*=UTF-8''d%C3%A9lib%20%22finale%22.pdf`);
  });
});
