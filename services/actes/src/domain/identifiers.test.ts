import { describe, expect, it } from "vitest";
import { actIdentifier, exchangeFileNames, transmissionNames, parseActIdentifier } from "./identifiers.ts";

describe("act identifiers", () => {
  it("when Rennes's deliberation is acknowledged, then its identifier reads département-SIREN-date-number-nature", () => {
    expect(actIdentifier("35", "213502388", "2026-11-28", "D2026_001", 1)).toBe("035-213502388-20261128-D2026_001-DE");
  });

  it("when an identifier is parsed, then its parts come back, and a malformed one gives nothing", () => {
    expect(parseActIdentifier("069-123456789-20130601-20130623C-AI")).toEqual({
      departement: "069",
      siren: "123456789",
      date: "2013-06-01",
      numeroInterne: "20130623C",
      nature: "AI",
    });
    expect(parseActIdentifier("069-123456789-2013-X-ZZ")).toBeUndefined();
  });

  it("when the files of a transmission are named, then they follow @ctes: identifier, exchange, typology and rank", () => {
    const names = exchangeFileNames("035-213502388-20261128-D2026_001-DE", "1-1");
    expect(names.metadata).toBe("035-213502388-20261128-D2026_001-DE-1-1_0.xml");
    expect(names.file("99_DE", 1, "pdf")).toBe("99_DE-035-213502388-20261128-D2026_001-DE-1-1_1.pdf");
    expect(names.file("41_NC", 2, "pdf")).toBe("41_NC-035-213502388-20261128-D2026_001-DE-1-1_2.pdf");
    expect(() => exchangeFileNames("D2026_001", "1-1")).toThrow(/invalid act identifier/);
  });

  it("when a transmission is named, then envelope and archive carry the SIREN, the day and the day's sequence", () => {
    expect(transmissionNames("MUT", "213502388", "2026-11-28", 3)).toEqual({
      envelope: "EACT--213502388--20261128-3.xml",
      archive: "MUT-EACT--213502388--20261128-3.tar.gz",
    });
    expect(() => transmissionNames("mutualis", "213502388", "2026-11-28", 1)).toThrow(/trigram/);
    expect(() => transmissionNames("MUT", "213502388", "2026-11-28", 0)).toThrow(/count from 1/);
  });
});
