/**
 * UDP conversations, beside TCP connections: every datagram between two endpoints (addresses and
 * ports, either way round) is counted in one conversation, as tshark's `-z conv,udp` counts them.
 * Per direction: datagrams, payload bytes, and a sha256 of the payloads one after another (what
 * `weft flows` prints for TCP). A conversation ends when it has been quiet for the idle time, when
 * the table is full (the least recently active goes, as `limit`) or at the end of input.
 *
 * Who is the client: the sender of the first datagram, unless it sent from a well-known port
 * (below 1024) to one that is not — a DNS answer seen before its question is still the server's.
 *
 * Protocol detection hooks: `detectors` look at each direction's first datagram; the first that
 * answers names the protocol (DNS and QUIC come with Weft).
 *
 * Memory: one object per open conversation, in a Map whose insertion order is the activity order
 * (a datagram moves its conversation to the end), so idle ones are found at the front.
 */
import { formatEndpoint } from '../decode/addr';
import type { DecodedPacket } from '../decode/layers';
import type { CaptureInfo } from '../reassembly';
import type { HashHost, IncrementalHash } from './flow';
import { inNumberOrder } from '../util/number-order';

export type UdpClose = 'idle' | 'end-of-input' | 'limit';

/** Names the protocol of a conversation from its first datagram in a direction, or returns null. */
export type UdpDetector = (payload: Uint8Array, srcPort: number, dstPort: number) => string | null;

export class UdpConversation {
  protocol: string | null = null;
  close: UdpClose | null = null;
  packets0 = 0;
  packets1 = 0;
  bytes0 = 0;
  bytes1 = 0;
  lastSec = 0;
  lastNsec = 0;
  private h0: IncrementalHash | null = null;
  private h1: IncrementalHash | null = null;

  constructor(
    readonly id: number,
    readonly key: string,
    readonly ipVersion: number,
    readonly vlan: number,
    readonly client: string,
    readonly server: string,
    readonly firstSec: number,
    readonly firstNsec: number,
  ) {}

  /** A datagram of direction `dir` (0 client → server). */
  add(dir: 0 | 1, payload: Uint8Array, ci: CaptureInfo, hashes: HashHost): void {
    if (dir === 0) {
      this.packets0++;
      this.bytes0 += payload.length;
      if (payload.length > 0) (this.h0 ??= hashes.sha256()).update(payload);
    } else {
      this.packets1++;
      this.bytes1 += payload.length;
      if (payload.length > 0) (this.h1 ??= hashes.sha256()).update(payload);
    }
    this.lastSec = ci.tsSec;
    this.lastNsec = ci.tsNsec;
  }

  /** The direction's sha256 (of no bytes when it carried none); finishes the hash: once. */
  digest(dir: 0 | 1, hashes: HashHost): string {
    const h = dir === 0 ? this.h0 : this.h1;
    return h === null ? hashes.sha256Hex(new Uint8Array(0)) : h.digest('hex');
  }
}

export interface UdpTableOptions {
  hashes: HashHost;
  /** Where ids come from (the TCP connections' counter: one id space, in order of first packet). */
  nextId: () => number;
  /** Open conversations at most; past it the least recently active ends (`limit`). */
  maxConversations?: number;
  detectors?: UdpDetector[];
  /** A conversation's first datagram (before it is counted). */
  opened?: (c: UdpConversation) => void;
  /** Each datagram once counted, with its payload (a view, valid during the call). */
  datagram?: (c: UdpConversation, dir: 0 | 1, payload: Uint8Array, ci: CaptureInfo) => void;
  complete: (c: UdpConversation) => void;
}

/** DNS: a 12-byte header whose counts are plausible, on port 53 or 5353 (mDNS). */
export const detectDns: UdpDetector = (b, sp, dp) => {
  if (!(sp === 53 || dp === 53 || sp === 5353 || dp === 5353) || b.length < 12) return null;
  const qd = (b[4] << 8) | b[5];
  const opcode = (b[2] >>> 3) & 0x0f;
  return qd <= 16 && opcode <= 6 ? 'dns' : null;
};

/** QUIC: a long header (form and fixed bits set) with a version and connection ids that fit. */
export const detectQuic: UdpDetector = (b) => {
  if (b.length < 7 || (b[0] & 0xc0) !== 0xc0) return null;
  const version = ((b[1] << 24) | (b[2] << 16) | (b[3] << 8) | b[4]) >>> 0;
  const dcil = b[5];
  if (dcil > 20 || 6 + dcil >= b.length || b[6 + dcil] > 20) return null;
  return version === 1 || version === 0x6b3343cf || (version & 0xffffff00) === 0xff000000 ? 'quic' : null;
};

export const UDP_DETECTORS: UdpDetector[] = [detectDns, detectQuic];

export class UdpTable {
  private readonly open = new Map<string, UdpConversation>();
  private readonly max: number;
  private readonly detectors: UdpDetector[];

  constructor(private readonly o: UdpTableOptions) {
    this.max = o.maxConversations ?? 150_000;
    this.detectors = o.detectors ?? UDP_DETECTORS;
  }

  get size(): number {
    return this.open.size;
  }

  /** A decoded UDP datagram (`d.transport === Transport.UDP`) with its capture info. */
  packet(d: DecodedPacket, ci: CaptureInfo): void {
    const sp = d.udp.srcPort;
    const dp = d.udp.dstPort;
    const src = formatEndpoint(d.ipVersion, d.src, sp);
    const dst = formatEndpoint(d.ipVersion, d.dst, dp);
    const fromA = src <= dst;
    const key = `${d.vlan}|${fromA ? src : dst}|${fromA ? dst : src}`;
    let c = this.open.get(key);
    if (c === undefined) {
      if (this.open.size >= this.max) this.end('limit', 1);
      const senderIsServer = sp < 1024 && dp >= 1024;
      c = new UdpConversation(this.o.nextId(), key, d.ipVersion, d.vlan, senderIsServer ? dst : src, senderIsServer ? src : dst, ci.tsSec, ci.tsNsec);
      this.o.opened?.(c);
    } else this.open.delete(key); // to the end: the most recently active
    this.open.set(key, c);
    const dir: 0 | 1 = c.client === src ? 0 : 1;
    const payload = d.buf.subarray(d.payloadOffset, d.payloadOffset + d.payloadCaptured);
    if (c.protocol === null && (dir === 0 ? c.packets0 : c.packets1) === 0 && payload.length > 0) {
      for (const det of this.detectors) {
        const name = det(payload, sp, dp);
        if (name !== null) {
          c.protocol = name;
          break;
        }
      }
    }
    c.add(dir, payload, ci, this.o.hashes);
    this.o.datagram?.(c, dir, payload, ci);
  }

  /** Ends the conversations quiet since before `t` (capture or wall seconds). */
  flushIdle(t: number): void {
    for (const c of this.open.values()) {
      if (c.lastSec + c.lastNsec / 1e9 >= t) break;
      this.finish(c, 'idle');
    }
  }

  /** Ends the least recently active `n` conversations with `why`; with Infinity all of them, in order of first packet. */
  end(why: UdpClose = 'end-of-input', n = Infinity): void {
    if (n === Infinity) return this.ending(why)(Infinity);
    for (const c of this.open.values()) {
      if (n-- <= 0) break;
      this.finish(c, why);
    }
  }

  /**
   * Ends every conversation open now, in order of first packet (their numbers), as far as the
   * returned function is told: `below(id)` ends those numbered below id, below(Infinity) the rest
   * (so they end in one number order beside the TCP connections: PacketPipeline.end).
   */
  ending(why: UdpClose = 'end-of-input'): (below: number) => void {
    return inNumberOrder(
      [...this.open.values()],
      (c) => c.id,
      (c) => this.finish(c, why),
    );
  }

  private finish(c: UdpConversation, why: UdpClose): void {
    this.open.delete(c.key);
    c.close = why;
    this.o.complete(c);
  }
}

/** What `weft flows` prints of a UDP conversation (the TCP flows' field names where they mean the same). */
export interface UdpFlow {
  id: number;
  proto: 'udp';
  client: string;
  server: string;
  firstSeen: number;
  lastSeen: number;
  packets: { c2s: number; s2c: number };
  bytes: { c2s: number; s2c: number };
  sha256: { c2s: string; s2c: string };
  close: UdpClose;
  protocol: string | null;
  ipVersion: number;
  vlan: number | null;
}

/** The record of a completed conversation (finishes its hashes: once). */
export function udpFlowOf(c: UdpConversation, hashes: HashHost): UdpFlow {
  return {
    id: c.id,
    proto: 'udp',
    client: c.client,
    server: c.server,
    firstSeen: c.firstSec + c.firstNsec / 1e9,
    lastSeen: c.lastSec + c.lastNsec / 1e9,
    packets: { c2s: c.packets0, s2c: c.packets1 },
    bytes: { c2s: c.bytes0, s2c: c.bytes1 },
    sha256: { c2s: c.digest(0, hashes), s2c: c.digest(1, hashes) },
    close: c.close ?? 'end-of-input',
    protocol: c.protocol,
    ipVersion: c.ipVersion,
    vlan: c.vlan >= 0 ? c.vlan : null,
  };
}
