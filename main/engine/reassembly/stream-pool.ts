/**
 * StreamPool: the table of live connections, shared by any number of Assemblers (gopacket keeps
 * the same split so several assemblers can feed one set of streams).
 *
 * Connections are found by a 32-bit hash of the canonical key — the two endpoints ordered
 * (address, then port) so both directions meet, plus the IP version and VLAN id — and then
 * compared field by field (a hash is never trusted alone, and never a sum of fields). A lookup
 * allocates nothing; only creating a connection does.
 *
 * Tombstones: a connection that completed on FIN or RST leaves its key behind for `tombstoneSec`
 * of capture time, so the final ACK and late retransmissions do not create a ghost connection.
 * A SYN without ACK on a tombstoned key is a new connection (port reuse).
 */
import { HalfConnection } from './half-connection';
import type { CloseReason, ConnectionState, Stream, StreamFactory, TCPFlowDirection } from './types';

export type { CloseReason };

export class Connection implements ConnectionState {
  /** Next connection in the same hash bucket. */
  hashNext: Connection | null = null;
  hash = 0;
  readonly id: number;
  ipVersion = 4;
  /** VLAN id of the first packet (-1 untagged). */
  vlan = -1;
  /** VLAN id of packets from endpoint A / B (VLAN_UNSEEN until one arrives). */
  vlanA = VLAN_UNSEEN;
  vlanB = VLAN_UNSEEN;
  /** Canonical endpoints: A orders before B. */
  readonly addrA = new Uint8Array(16);
  readonly addrB = new Uint8Array(16);
  readonly wordsA = new Int32Array(this.addrA.buffer);
  readonly wordsB = new Int32Array(this.addrB.buffer);
  portA = 0;
  portB = 0;
  /** The client is endpoint A. */
  clientIsA = true;
  /** Client and server were guessed (no SYN or SYN-ACK seen first). */
  directionInferred = false;
  readonly halves: [HalfConnection, HalfConnection] = [new HalfConnection(0), new HalfConnection(1)];
  stream!: Stream;
  firstSec = 0;
  firstNsec = 0;
  lastSec = 0;
  lastNsec = 0;
  /** reassemblyComplete has been called; the connection only absorbs packets now. */
  completed = false;
  /** Removed from the pool's table. */
  removed = false;
  closeReason: CloseReason | null = null;

  constructor(id: number) {
    this.id = id;
  }

  /** Direction of a packet sent from endpoint A (true) or B (false). */
  dirFromA(fromA: boolean): TCPFlowDirection {
    return fromA === this.clientIsA ? 0 : 1;
  }
}

/** A connection endpoint whose VLAN is not known yet (no packet from it so far). */
export const VLAN_UNSEEN = -2;

/*
 * Keys are handled as 32-bit words (1 for IPv4, 4 for IPv6), not byte by byte: a quarter of the
 * work on the per-packet path. The canonical order of two endpoints only has to be the same from
 * both directions, so comparing signed words (not bytes) is enough.
 */

/** Compares endpoint (a, pa) with (b, pb) over `words` words: <0, 0, >0. */
function compareEndpoint(words: number, a: Int32Array<ArrayBufferLike>, pa: number, b: Int32Array<ArrayBufferLike>, pb: number): number {
  for (let i = 0; i < words; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return pa - pb;
}

function sameAddr(words: number, a: Int32Array<ArrayBufferLike>, b: Int32Array<ArrayBufferLike>): boolean {
  for (let i = 0; i < words; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A VLAN-free key hash: FNV-1a over the canonical words and ports, as a Smi-sized int32. */
function hashKey(words: number, a: Int32Array<ArrayBufferLike>, pa: number, b: Int32Array<ArrayBufferLike>, pb: number, version: number): number {
  let h = 0x811c9dc5 ^ version;
  for (let i = 0; i < words; i++) h = Math.imul(h ^ a[i], 0x01000193);
  h = Math.imul(h ^ pa, 0x01000193);
  for (let i = 0; i < words; i++) h = Math.imul(h ^ b[i], 0x01000193);
  h = Math.imul(h ^ pb, 0x01000193);
  return h | 0; // int32: a Smi key, never a boxed heap number (see sequence.ts)
}

/** A 16-byte address as 4 words; reuses the view while the caller passes the same array. */
class WordView {
  private bytes: Uint8Array | null = null;
  private view: Int32Array<ArrayBufferLike> = new Int32Array(4);
  private readonly copy = new Int32Array(4);
  private readonly copyBytes = new Uint8Array(this.copy.buffer);

  of(a: Uint8Array): Int32Array<ArrayBufferLike> {
    if (a === this.bytes) return this.view;
    if (a.byteOffset % 4 === 0 && a.length >= 16) {
      this.bytes = a;
      this.view = new Int32Array(a.buffer, a.byteOffset, 4);
      return this.view;
    }
    // unaligned or short (not the decoder's case): copy, byte by byte to allocate nothing
    this.bytes = null;
    const cb = this.copyBytes;
    const n = a.length < 16 ? a.length : 16;
    for (let i = 0; i < 16; i++) cb[i] = i < n ? a[i] : 0;
    return this.copy;
  }
}

/** Result of a lookup: the connection and whether the packet came from endpoint A. */
export interface Found {
  conn: Connection | null;
  fromA: boolean;
  hash: number;
}

interface Tombstone {
  hash: number;
  ipVersion: number;
  vlanA: number;
  vlanB: number;
  wordsA: Int32Array;
  wordsB: Int32Array;
  portA: number;
  portB: number;
  untilSec: number;
}

export class StreamPool {
  private readonly table = new Map<number, Connection>();
  private readonly tombstones = new Map<number, Tombstone[]>();
  private nextId = 1;
  /** Live connections (not removed). */
  size = 0;
  /** Packets absorbed by tombstones (final ACKs, late retransmissions). */
  tombstoneHits = 0;
  private readonly found: Found = { conn: null, fromA: true, hash: 0 };
  private readonly srcWords = new WordView();
  private readonly dstWords = new WordView();

  constructor(readonly factory: StreamFactory) {}

  /**
   * Finds the connection of a packet from (src, sport) to (dst, dport) tagged with `vlan`. The
   * returned object is reused by the next lookup.
   *
   * VLAN ids are part of the key per direction: a connection remembers the VLAN of each endpoint's
   * packets. A packet matches when its VLAN equals the one its sender used before, or when its
   * sender has not been seen yet (captures on a trunk often see the two directions of one
   * connection on different VLANs). Two connections with the same endpoints on different VLANs
   * stay apart; among candidates, one whose other side used the same VLAN is preferred.
   */
  lookup(version: number, vlan: number, src: Uint8Array, sport: number, dst: Uint8Array, dport: number): Found {
    const words = version === 6 ? 4 : 1;
    const s = this.srcWords.of(src);
    const d = this.dstWords.of(dst);
    const fromA = compareEndpoint(words, s, sport, d, dport) <= 0;
    const h = fromA ? hashKey(words, s, sport, d, dport, version) : hashKey(words, d, dport, s, sport, version);
    const f = this.found;
    f.hash = h;
    f.fromA = fromA;
    f.conn = null;
    let fallback: Connection | null = null;
    let fallbackScore = -1;
    for (let c = this.table.get(h) ?? null; c !== null; c = c.hashNext) {
      if (c.ipVersion !== version) continue;
      const same = fromA
        ? c.portA === sport && c.portB === dport && sameAddr(words, c.wordsA, s) && sameAddr(words, c.wordsB, d)
        : c.portA === dport && c.portB === sport && sameAddr(words, c.wordsA, d) && sameAddr(words, c.wordsB, s);
      if (!same) continue;
      const mine = fromA ? c.vlanA : c.vlanB;
      if (mine === vlan) {
        f.conn = c;
        return f;
      }
      if (mine === VLAN_UNSEEN) {
        const other = fromA ? c.vlanB : c.vlanA;
        const score = other === vlan ? 1 : 0;
        if (score > fallbackScore) {
          fallback = c;
          fallbackScore = score;
        }
      }
    }
    if (fallback !== null) {
      if (fromA) fallback.vlanA = vlan;
      else fallback.vlanB = vlan;
      f.conn = fallback;
    }
    return f;
  }

  /** Creates and registers a connection for the packet just looked up. */
  create(version: number, vlan: number, src: Uint8Array, sport: number, dst: Uint8Array, dport: number, f: Found): Connection {
    const c = new Connection(this.nextId++);
    const len = version === 6 ? 16 : 4;
    c.ipVersion = version;
    c.vlan = vlan;
    if (f.fromA) c.vlanA = vlan;
    else c.vlanB = vlan;
    c.hash = f.hash;
    const [a, pa, b, pb] = f.fromA ? [src, sport, dst, dport] : [dst, dport, src, sport];
    c.addrA.set(a.subarray(0, len));
    c.addrB.set(b.subarray(0, len));
    c.portA = pa;
    c.portB = pb;
    c.hashNext = this.table.get(f.hash) ?? null;
    this.table.set(f.hash, c);
    this.size++;
    return c;
  }

  remove(c: Connection): void {
    if (c.removed) return;
    c.removed = true;
    let head = this.table.get(c.hash) ?? null;
    if (head === c) {
      if (c.hashNext) this.table.set(c.hash, c.hashNext);
      else this.table.delete(c.hash);
    } else {
      while (head && head.hashNext !== c) head = head.hashNext;
      if (head) head.hashNext = c.hashNext;
    }
    c.hashNext = null;
    this.size--;
  }

  /** Leaves a tombstone for a connection that ended on FIN or RST. */
  bury(c: Connection, untilSec: number): void {
    const t: Tombstone = {
      hash: c.hash,
      ipVersion: c.ipVersion,
      vlanA: c.vlanA,
      vlanB: c.vlanB,
      wordsA: c.wordsA,
      wordsB: c.wordsB,
      portA: c.portA,
      portB: c.portB,
      untilSec,
    };
    const list = this.tombstones.get(c.hash);
    if (list) list.push(t);
    else this.tombstones.set(c.hash, [t]);
  }

  /** True if the key just looked up (same arguments as lookup) is tombstoned. */
  isBuried(version: number, vlan: number, src: Uint8Array, sport: number, dst: Uint8Array, dport: number, f: Found): boolean {
    const list = this.tombstones.get(f.hash);
    if (!list) return false;
    const words = version === 6 ? 4 : 1;
    const s = this.srcWords.of(src);
    const d = this.dstWords.of(dst);
    const [a, pa, b, pb] = f.fromA ? [s, sport, d, dport] : [d, dport, s, sport];
    return list.some(
      (t) =>
        t.ipVersion === version &&
        (t.vlanA === vlan || t.vlanB === vlan || t.vlanA === VLAN_UNSEEN || t.vlanB === VLAN_UNSEEN) &&
        t.portA === pa &&
        t.portB === pb &&
        sameAddr(words, t.wordsA, a) &&
        sameAddr(words, t.wordsB, b),
    );
  }

  /** Forgets the tombstone of a key (a new connection took it over). */
  unbury(f: Found): void {
    this.tombstones.delete(f.hash);
  }

  /** Drops tombstones that expired before `nowSec`. */
  sweepTombstones(nowSec: number): void {
    for (const [h, list] of this.tombstones) {
      const live = list.filter((t) => t.untilSec >= nowSec);
      if (live.length === 0) this.tombstones.delete(h);
      else if (live.length !== list.length) this.tombstones.set(h, live);
    }
  }

  get tombstoneCount(): number {
    let n = 0;
    for (const l of this.tombstones.values()) n += l.length;
    return n;
  }

  connections(): IterableIterator<Connection> {
    const table = this.table;
    function* all(): Generator<Connection> {
      for (const head of table.values()) for (let c: Connection | null = head; c; c = c.hashNext) yield c;
    }
    return all();
  }

  newId(): number {
    return this.nextId;
  }
}
