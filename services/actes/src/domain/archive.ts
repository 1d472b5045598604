/** The @ctes archive is the platform's flat tar.gz, which the kit writes and reads. */
export { ArchiveError, readArchive, streamArchive, writeArchive, type ArchivedFile, type ArchiveEntry, type StreamedFile } from "@mutualis/service-kit";
