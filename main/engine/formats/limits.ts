/**
 * Bounds that keep hostile files from making a reader buffer absurd amounts.
 *
 * tshark refuses pcap records over 262,144 bytes (WTAP_MAX_PACKET_SIZE_STANDARD). Real captures
 * can exceed that only with a larger snaplen (BIG TCP, USB, D-Bus), so a record may be as large as
 * the file's snaplen, capped at {@link MAX_RECORD_HARD_LIMIT}.
 */
const MAX_RECORD_STANDARD = 262_144;
const MAX_RECORD_HARD_LIMIT = 64 * 1024 * 1024;
/** pcapng blocks larger than this are treated as damage (tshark's limit is ~128 MiB). */
export const MAX_BLOCK_LENGTH = 128 * 1024 * 1024;

export function maxRecordFor(snapLen: number): number {
  return Math.min(Math.max(MAX_RECORD_STANDARD, snapLen >>> 0), MAX_RECORD_HARD_LIMIT);
}
