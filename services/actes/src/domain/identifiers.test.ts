import { describe, expect, it } from "vitest";
import { actIdentifier, archiveName, parseActIdentifier } from "./identifiers.ts";

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

  it("when an archive is named, then it follows {TRI}-EACT--{SIREN}--{YYYYMMDD}-{n}.tar.gz", () => {
    expect(archiveName("MUT", "213502388", "2026-11-28", 3)).toBe("MUT-EACT--213502388--20261128-3.tar.gz");
    expect(() => archiveName("mutualis", "213502388", "2026-11-28", 1)).toThrow(/trigram/);
  });
});
