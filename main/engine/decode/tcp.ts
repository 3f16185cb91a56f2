/**
 * TCP header decoding (RFC 9293). The options are left for TcpHeader to parse lazily (layers.ts).
 */
import { DA, type DecodeAnomalies } from './anomalies';
import type { TcpHeader } from './layers';

/**
 * Parses the TCP header at b[off]. `ipEnd` is where the IP payload ends according to the IP
 * header, `capEnd` where the captured bytes end. Returns the header length, or -1 if the header
 * is unusable (anomaly counted).
 */
export function decodeTcp(b: Uint8Array, off: number, ipEnd: number, capEnd: number, t: TcpHeader, an: DecodeAnomalies): number {
  const capAvail = (ipEnd < capEnd ? ipEnd : capEnd) - off;
  if (capAvail < 20) {
    an.inc(DA['tcp-truncated-header']);
    return -1;
  }
  const doff = (b[off + 12] >>> 4) << 2;
  if (doff < 20 || doff > ipEnd - off) {
    an.inc(DA['tcp-bad-data-offset']);
    return -1;
  }
  if (doff > capAvail) {
    an.inc(DA['tcp-truncated-header']);
    return -1;
  }
  t.srcPort = (b[off] << 8) | b[off + 1];
  t.dstPort = (b[off + 2] << 8) | b[off + 3];
  t.seq = ((b[off + 4] << 24) | (b[off + 5] << 16) | (b[off + 6] << 8) | b[off + 7]) >>> 0;
  t.ack = ((b[off + 8] << 24) | (b[off + 9] << 16) | (b[off + 10] << 8) | b[off + 11]) >>> 0;
  t.dataOffset = doff;
  t.flags = ((b[off + 12] & 1) << 8) | b[off + 13];
  t.window = (b[off + 14] << 8) | b[off + 15];
  t.checksum = (b[off + 16] << 8) | b[off + 17];
  t.urgent = (b[off + 18] << 8) | b[off + 19];
  t.setOptions(b, off + 20, off + doff);
  return doff;
}
