/**
 * The speed floor the benchmarks compare against: a loop that only walks a little-endian pcap's
 * record headers (reads incl_len, jumps over the data) over the same chunked file reads the real
 * reader uses (main/sources/file-chunks.ts). Nothing real can be faster than this in JavaScript on the same I/O.
 */
import { open } from 'node:fs/promises';
import { fileChunks } from '../../main/sources/file-chunks';

export async function walkRecordHeaders(path: string, chunkSize = 4 << 20): Promise<{ packets: number; bytes: number }> {
  const fh = await open(path, 'r');
  const hdr = new Uint8Array(16);
  let hdrLen = 0;
  let skip = 24; // global header
  let packets = 0;
  let bytes = 0;
  try {
    for await (const buf of fileChunks(fh, chunkSize, (e) => e as Error)) {
      const n = buf.length;
      bytes += n;
      let p = 0;
      while (p < n) {
        if (skip > 0) {
          const s = Math.min(skip, n - p);
          skip -= s;
          p += s;
          continue;
        }
        if (hdrLen > 0 || n - p < 16) {
          const take = Math.min(16 - hdrLen, n - p);
          hdr.set(buf.subarray(p, p + take), hdrLen);
          hdrLen += take;
          p += take;
          if (hdrLen < 16) break;
          skip = (hdr[8] | (hdr[9] << 8) | (hdr[10] << 16) | (hdr[11] << 24)) >>> 0;
          hdrLen = 0;
          packets++;
          continue;
        }
        skip = (buf[p + 8] | (buf[p + 9] << 8) | (buf[p + 10] << 16) | (buf[p + 11] << 24)) >>> 0;
        p += 16;
        packets++;
      }
    }
  } finally {
    await fh.close();
  }
  return { packets, bytes };
}
