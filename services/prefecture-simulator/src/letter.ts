/**
 * A one-page PDF letter, as a prefecture sends with its courriers: a title and lines of text in
 * Helvetica (WinAnsi, so French letters print), written by hand: PDF's own structure, an xref
 * table of byte offsets, nothing else. What latin-1 cannot print is replaced by "?".
 */
export function letterPdf(title: string, lines: readonly string[]): Buffer {
  const printable = (text: string) =>
    text
      .replace(/—/g, "-")
      .replace(/[^\u0020-\u00ff]/g, "?")
      .replace(/[\\()]/g, (c) => `\\${c}`);
  const text = [
    "BT /F1 14 Tf 72 770 Td",
    `(${printable(title)}) Tj`,
    "/F1 11 Tf 0 -28 Td 15 TL",
    ...lines.map((line) => `(${printable(line)}) '`),
    "ET",
  ].join("\n");
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    `<< /Length ${Buffer.byteLength(text, "latin1")} >>\nstream\n${text}\nendstream`,
  ];
  let pdf = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n";
  const offsets: number[] = [];
  objects.forEach((object, i) => {
    offsets.push(Buffer.byteLength(pdf, "latin1"));
    pdf += `${i + 1} 0 obj\n${object}\nendobj\n`;
  });
  const xref = Buffer.byteLength(pdf, "latin1");
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, "0")} 00000 n \n`).join("")}`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, "latin1");
}
