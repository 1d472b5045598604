import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { letterPdf } from "./letter.ts";

describe("the prefecture's letters", () => {
  it("when a letter is written, then poppler reads it as one page with its French text", () => {
    const file = join(mkdtempSync(join(tmpdir(), "letter-")), "courrier.pdf");
    writeFileSync(file, letterPdf("Préfecture — contrôle de légalité", ["Acte 035-213502388-20261120-D2026_003-DE", "Merci de préciser la date (séance du 3) ; vœu n°2."]));
    expect(execFileSync("pdfinfo", [file], { encoding: "utf8" })).toMatch(/Pages:\s+1/);
    const text = execFileSync("pdftotext", [file, "-"], { encoding: "utf8" });
    expect(text).toContain("Préfecture - contrôle de légalité");
    expect(text).toContain("Merci de préciser la date (séance du 3) ; v?u n°2.");
  });
});
