/**
 * TCP header and options (RFC 9293, RFC 7323 window scale/timestamps, RFC 2018 SACK).
 *
 * Options are walked within the header: EOL ends the list, NOP is one byte, every other kind has
 * a length byte ≥ 2 that must fit inside the header; a bad length stops option parsing and counts
 * `tcp-bad-option` (the fields parsed before it are kept). Options we do not interpret (MPTCP,
 * TCP-AO, …) are counted in `otherOptions`.
 */
import { u16be, u32be } from '../util/bytes';
import { DA, type DecodeAnomalies } from './anomalies';
import type { TcpHeader } from './layers';

/**
 * Parses the TCP header at b[off]. `ipEnd` is where the IP payload ends according to the IP
 * header, `capEnd` where the captured bytes end. Returns the header length, or -1 if the header
 * is unusable (anomaly counted).
 */
export function decodeTcp(b: Uint8Array, off: number, ipEnd: number, capEnd: number, t: TcpHeader, an: DecodeAnomalies): number {
  const capAvail = Math.min(ipEnd, capEnd) - off;
  if (capAvail < 20) {
    an.inc(DA['tcp-truncated-header']);
    return -1;
  }
  const doff = (b[off + 12] >>> 4) * 4;
  if (doff < 20 || doff > ipEnd - off) {
    an.inc(DA['tcp-bad-data-offset']);
    return -1;
  }
  if (doff > capAvail) {
    an.inc(DA['tcp-truncated-header']);
    return -1;
  }
  t.srcPort = u16be(b, off);
  t.dstPort = u16be(b, off + 2);
  t.seq = u32be(b, off + 4);
  t.ack = u32be(b, off + 8);
  t.dataOffset = doff;
  t.flags = ((b[off + 12] & 1) << 8) | b[off + 13];
  t.window = u16be(b, off + 14);
  t.checksum = u16be(b, off + 16);
  t.urgent = u16be(b, off + 18);
  t.reset();
  if (doff > 20) parseOptions(b, off + 20, off + doff, t, an);
  return doff;
}

function parseOptions(b: Uint8Array, o: number, end: number, t: TcpHeader, an: DecodeAnomalies): void {
  while (o < end) {
    const kind = b[o];
    if (kind === 0) return;
    if (kind === 1) {
      o++;
      continue;
    }
    if (o + 1 >= end) {
      an.inc(DA['tcp-bad-option']);
      return;
    }
    const len = b[o + 1];
    if (len < 2 || o + len > end) {
      an.inc(DA['tcp-bad-option']);
      return;
    }
    switch (kind) {
      case 2:
        if (len === 4) t.mss = u16be(b, o + 2);
        else an.inc(DA['tcp-bad-option']);
        break;
      case 3:
        if (len === 3) t.windowScale = b[o + 2];
        else an.inc(DA['tcp-bad-option']);
        break;
      case 4:
        if (len === 2) t.sackPermitted = true;
        else an.inc(DA['tcp-bad-option']);
        break;
      case 5: {
        const n = (len - 2) >>> 3;
        if ((len - 2) % 8 !== 0 || n === 0 || n > 4) {
          an.inc(DA['tcp-bad-option']);
          break;
        }
        for (let i = 0; i < n; i++) {
          t.sack[2 * i] = u32be(b, o + 2 + 8 * i);
          t.sack[2 * i + 1] = u32be(b, o + 6 + 8 * i);
        }
        t.sackCount = n;
        break;
      }
      case 8:
        if (len === 10) {
          t.hasTimestamps = true;
          t.tsVal = u32be(b, o + 2);
          t.tsEcr = u32be(b, o + 6);
        } else an.inc(DA['tcp-bad-option']);
        break;
      default:
        t.otherOptions++;
    }
    o += len;
  }
}
