/**
 * Header walkers for the link layers and encapsulations that wrap IP less directly: each reads
 * one header at b[off, end) and returns where the next layer starts (or a negative HEADER_*
 * code), so the decoder's dispatch stays a switch. None allocates; all are bounds-checked.
 *
 * Byte orders follow the formats' own rules: radiotap, PPI and Prism headers are little-endian,
 * NFLOG's TLVs are in the capturing host's order (read as little-endian unless that cannot fit),
 * everything on the wire is big-endian.
 */
import { u16be, u32be } from '../util/bytes';

/** Not enough bytes for the header. */
export const HEADER_TRUNCATED = -1;
/** The header is there but says it carries no IP (management frame, control, other protocol). */
export const HEADER_NOT_IP = -2;
/** 802.11 data protected by WEP/WPA: the payload cannot be read without keys. */
export const HEADER_ENCRYPTED = -3;

function u16le(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8);
}
function u32le(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

/** Radiotap (LINKTYPE 127): version 0, a pad byte, the whole header's length (LE), then fields. */
export function radiotapEnd(b: Uint8Array, off: number, end: number): number {
  if (end - off < 8) return HEADER_TRUNCATED;
  if (b[off] !== 0) return HEADER_NOT_IP;
  const len = u16le(b, off + 2);
  if (len < 8 || off + len > end) return HEADER_TRUNCATED;
  return off + len;
}

/** PPI (LINKTYPE 192): version, flags, header length (LE), the inner link type (LE). */
export function ppiHeader(b: Uint8Array, off: number, end: number): { next: number; linkType: number } | number {
  if (end - off < 8) return HEADER_TRUNCATED;
  const len = u16le(b, off + 2);
  if (len < 8 || off + len > end) return HEADER_TRUNCATED;
  return { next: off + len, linkType: u32le(b, off + 4) };
}

/**
 * Prism monitor header (LINKTYPE 119) and AVS (163). AVS starts with the big-endian magic
 * 0x8021100x and its length at 4; Prism's message length at 4 is in host order (144 in practice).
 */
export function prismEnd(b: Uint8Array, off: number, end: number): number {
  if (end - off < 8) return HEADER_TRUNCATED;
  let len: number;
  if ((u32be(b, off) & 0xfffffff0) === 0x80211000) len = u32be(b, off + 4);
  else {
    len = u32le(b, off + 4);
    if (len < 8 || off + len > end) len = u32be(b, off + 4);
  }
  if (len < 8 || off + len > end) return HEADER_TRUNCATED;
  return off + len;
}

/**
 * IEEE 802.11 (LINKTYPE 105): returns where the LLC header of a data frame starts. The MAC
 * header is 24 bytes, 30 with a fourth address (to-DS and from-DS both set), plus 2 for QoS data
 * and 4 more when a QoS frame carries an HT control field (the +HTC/order bit).
 */
export function wlanDataStart(b: Uint8Array, off: number, end: number): number {
  if (end - off < 24) return HEADER_TRUNCATED;
  const fc0 = b[off];
  const fc1 = b[off + 1];
  if ((fc0 & 0x03) !== 0) return HEADER_NOT_IP; // protocol version 0 only
  if (((fc0 >>> 2) & 0x03) !== 2) return HEADER_NOT_IP; // management and control frames
  const subtype = fc0 >>> 4;
  if (subtype & 0x04) return HEADER_NOT_IP; // null data: no frame body
  let h = 24;
  if ((fc1 & 0x03) === 0x03) h += 6;
  if (subtype & 0x08) {
    h += 2;
    if (off + h > end) return HEADER_TRUNCATED;
    if (b[off + h - 2] & 0x80) return HEADER_NOT_IP; // A-MSDU: several frames in one body
    if (fc1 & 0x80) h += 4;
  }
  if (fc1 & 0x40) return HEADER_ENCRYPTED;
  if (off + h > end) return HEADER_TRUNCATED;
  return off + h;
}

/**
 * Linux NFLOG (LINKTYPE 239): family, version, resource id, then TLVs of (length, type) in host
 * order padded to 4 bytes; type 9 (NFULA_PAYLOAD) holds the packet. Returns its [start, end) in
 * `span` or a negative code.
 */
export function nflogPayload(b: Uint8Array, off: number, end: number, span: Int32Array): number {
  if (end - off < 4) return HEADER_TRUNCATED;
  let p = off + 4;
  while (end - p >= 4) {
    let len = u16le(b, p);
    let type = u16le(b, p + 2);
    if (len < 4 || p + len > end) {
      len = u16be(b, p);
      type = u16be(b, p + 2);
      if (len < 4 || p + len > end) return HEADER_TRUNCATED;
    }
    if ((type & 0x7fff) === 9) {
      span[0] = p + 4;
      span[1] = p + len;
      return 0;
    }
    p += (len + 3) & ~3;
  }
  return HEADER_NOT_IP;
}

/**
 * GTP-U (UDP 2152): version 1, protocol type GTP, message 0xFF (G-PDU) carries a user packet.
 * Eight bytes, four more when any of E/S/PN is set, then the chain of extension headers (length
 * in 4-byte units, next type in their last byte).
 */
export function gtpuStart(b: Uint8Array, off: number, end: number): number {
  if (end - off < 8) return HEADER_TRUNCATED;
  const flags = b[off];
  if (flags >>> 5 !== 1 || (flags & 0x10) === 0) return HEADER_NOT_IP;
  if (b[off + 1] !== 0xff) return HEADER_NOT_IP;
  let p = off + 8;
  if (flags & 0x07) {
    p += 4;
    if (p > end) return HEADER_TRUNCATED;
    if (flags & 0x04) {
      let next = b[p - 1];
      while (next !== 0) {
        if (p >= end) return HEADER_TRUNCATED;
        const len = b[p] * 4;
        if (len === 0 || p + len > end) return HEADER_TRUNCATED;
        next = b[p + len - 1];
        p += len;
      }
    }
  }
  return p;
}

/** Geneve (UDP 6081): version 0, options length in 4-byte words; the protocol type is an ethertype. */
export function geneveStart(b: Uint8Array, off: number, end: number): number {
  if (end - off < 8) return HEADER_TRUNCATED;
  if (b[off] >>> 6 !== 0) return HEADER_NOT_IP;
  const p = off + 8 + (b[off] & 0x3f) * 4;
  return p > end ? HEADER_TRUNCATED : p;
}

/**
 * Teredo (UDP 3544): IPv6 in UDP, optionally behind an authentication header (00 01, id and
 * authenticator lengths, an 8-byte nonce and a confirmation byte) and an origin indication (00 00,
 * 8 bytes). Returns where the IPv6 header starts, or HEADER_NOT_IP for Teredo's own bubbles.
 */
export function teredoStart(b: Uint8Array, off: number, end: number): number {
  let p = off;
  if (end - p >= 4 && b[p] === 0 && b[p + 1] === 1) p += 4 + b[p + 2] + b[p + 3] + 9;
  if (end - p >= 8 && b[p] === 0 && b[p + 1] === 0) p += 8;
  if (end - p < 40 || b[p] >>> 4 !== 6) return HEADER_NOT_IP;
  return p;
}

/** ERSPAN type III (GRE 0x22EB): 12 bytes, 8 more when the O flag says a platform subheader follows. */
export function erspan3Start(b: Uint8Array, off: number, end: number): number {
  if (end - off < 12) return HEADER_TRUNCATED;
  const p = off + 12 + (b[off + 11] & 0x01 ? 8 : 0);
  return p > end ? HEADER_TRUNCATED : p;
}

/**
 * ARCNET (LINKTYPE 7, BSD; 129, Linux with two offset bytes after the addresses): source,
 * destination, protocol id. IP per RFC 1051 (240) follows at once; per RFC 1201 (212) after a
 * split flag and a 2-byte sequence, with 4 bytes of padding in an exception packet (flag 0xFF).
 */
export function arcnetIpStart(b: Uint8Array, off: number, end: number, linux: boolean): number {
  let p = off + 2 + (linux ? 2 : 0);
  if (end - p < 1) return HEADER_TRUNCATED;
  const proto = b[p++];
  if (proto === 240 || proto === 241) return p; // RFC 1051 IP (and ARP, which is not IP further on)
  if (proto !== 212) return HEADER_NOT_IP;
  if (end - p < 3) return HEADER_TRUNCATED;
  if (b[p] === 0xff) p += 4;
  p += 3;
  if (b[p - 3] !== 0) return HEADER_NOT_IP; // a fragment of a split packet after the first
  return p > end ? HEADER_TRUNCATED : p;
}

/**
 * Juniper's capture header (LINKTYPE 178, JUNIPER_ETHER): magic "MGC", flags, then when the
 * extension flag (0x80) is set a 2-byte length of TLVs to skip. With the no-L2 flag (0x02) a
 * 4-byte protocol word precedes a bare IP packet; otherwise an Ethernet frame follows.
 * Returns the next offset; `noL2` tells which.
 */
export function juniperStart(b: Uint8Array, off: number, end: number, out: { noL2: boolean }): number {
  if (end - off < 4) return HEADER_TRUNCATED;
  if (b[off] !== 0x4d || b[off + 1] !== 0x47 || b[off + 2] !== 0x43) return HEADER_NOT_IP;
  const flags = b[off + 3];
  let p = off + 4;
  if (flags & 0x80) {
    if (end - p < 2) return HEADER_TRUNCATED;
    p += 2 + u16be(b, p);
  }
  out.noL2 = (flags & 0x02) !== 0;
  if (out.noL2) p += 4;
  return p > end ? HEADER_TRUNCATED : p;
}
