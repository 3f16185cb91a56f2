/**
 * StreamPool: the table of live connections and their out-of-order pages, shared by any number of
 * Assemblers (gopacket keeps the same split so several assemblers can feed one set of streams;
 * here they take turns on one thread, so sharing needs no lock).
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
import { PageCache } from './page-cache';
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

/**
 * A VLAN-free key hash: murmur3 (32-bit) over the canonical words and ports, as an int32. Each
 * word is mixed before it is combined: keys that differ only in high address bytes (10.1.0.98 and
 * 10.1.0.109 as little-endian words) must not collide.
 */
function hashKey(words: number, a: Int32Array<ArrayBufferLike>, pa: number, b: Int32Array<ArrayBufferLike>, pb: number, version: number): number {
  let h = 0x9747b28c ^ version;
  for (let i = 0; i < words; i++) h = mix(h, a[i]);
  h = mix(h, (pa << 16) | pb);
  for (let i = 0; i < words; i++) h = mix(h, b[i]);
  h ^= words * 8 + 4;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0; // int32: a Smi key, never a boxed heap number (see sequence.ts)
}

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
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
  /**
   * Hash table: buckets indexed by the key hash's low bits, chained through Connection.hashNext.
   * An array lookup instead of a Map's: this runs for every packet. Doubles past 3/4 load.
   */
  private buckets: (Connection | null)[] = new Array(1024).fill(null);
  private mask = 1023;
  private readonly tombstones = new Map<number, Tombstone[]>();
  private nextId = 1;
  /** Live connections (not removed). */
  size = 0;
  /** Packets absorbed by tombstones (final ACKs, late retransmissions). */
  tombstoneHits = 0;
  private readonly found: Found = { conn: null, fromA: true, hash: 0 };
  private readonly srcWords = new WordView();
  /** The connection the last lookup found (or created). */
  private last: Connection | null = null;
  private readonly dstWords = new WordView();

  /** Out-of-order pages of all connections, shared by the assemblers that use this pool. */
  readonly pageCache = new PageCache();

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
    const f = this.found;
    // Packets come in bursts per connection: try the last connection found before hashing.
    const last = this.last;
    if (last !== null && !last.removed && last.ipVersion === version) {
      if (last.portA === sport && last.portB === dport && last.vlanA === vlan && sameAddr(words, last.wordsA, s) && sameAddr(words, last.wordsB, d)) {
        f.conn = last;
        f.fromA = true;
        f.hash = last.hash;
        return f;
      }
      if (last.portA === dport && last.portB === sport && last.vlanB === vlan && sameAddr(words, last.wordsA, d) && sameAddr(words, last.wordsB, s)) {
        f.conn = last;
        f.fromA = false;
        f.hash = last.hash;
        return f;
      }
    }
    const fromA = compareEndpoint(words, s, sport, d, dport) <= 0;
    const h = fromA ? hashKey(words, s, sport, d, dport, version) : hashKey(words, d, dport, s, sport, version);
    f.hash = h;
    f.fromA = fromA;
    f.conn = null;
    let fallback: Connection | null = null;
    let fallbackScore = -1;
    for (let c = this.buckets[h & this.mask]; c !== null; c = c.hashNext) {
      if (c.ipVersion !== version) continue;
      const same = fromA
        ? c.portA === sport && c.portB === dport && sameAddr(words, c.wordsA, s) && sameAddr(words, c.wordsB, d)
        : c.portA === dport && c.portB === sport && sameAddr(words, c.wordsA, d) && sameAddr(words, c.wordsB, s);
      if (!same) continue;
      const mine = fromA ? c.vlanA : c.vlanB;
      if (mine === vlan) {
        f.conn = c;
        this.last = c;
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
      this.last = fallback;
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
    const i = f.hash & this.mask;
    c.hashNext = this.buckets[i];
    this.buckets[i] = c;
    this.size++;
    this.last = c;
    if (this.size > (this.buckets.length * 3) >> 2) this.grow();
    return c;
  }

  private grow(): void {
    const old = this.buckets;
    this.buckets = new Array(old.length * 2).fill(null);
    this.mask = this.buckets.length - 1;
    for (let head of old) {
      while (head !== null) {
        const next: Connection | null = head.hashNext;
        const i = head.hash & this.mask;
        head.hashNext = this.buckets[i];
        this.buckets[i] = head;
        head = next;
      }
    }
  }

  remove(c: Connection): void {
    if (c.removed) return;
    c.removed = true;
    const i = c.hash & this.mask;
    let head = this.buckets[i];
    if (head === c) this.buckets[i] = c.hashNext;
    else {
      while (head !== null && head.hashNext !== c) head = head.hashNext;
      if (head !== null) head.hashNext = c.hashNext;
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

  /** Forgets the tombstone of the key just looked up (a new connection takes it over). */
  unbury(version: number, src: Uint8Array, sport: number, dst: Uint8Array, dport: number, f: Found): void {
    const list = this.tombstones.get(f.hash);
    if (!list) return;
    const words = version === 6 ? 4 : 1;
    const s = this.srcWords.of(src);
    const d = this.dstWords.of(dst);
    const [a, pa, b, pb] = f.fromA ? [s, sport, d, dport] : [d, dport, s, sport];
    const rest = list.filter((t) => !(t.ipVersion === version && t.portA === pa && t.portB === pb && sameAddr(words, t.wordsA, a) && sameAddr(words, t.wordsB, b)));
    if (rest.length === 0) this.tombstones.delete(f.hash);
    else this.tombstones.set(f.hash, rest);
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

  /** Every live connection (a snapshot: safe to remove connections while going through it). */
  connections(): Connection[] {
    const all: Connection[] = [];
    for (const head of this.buckets) for (let c: Connection | null = head; c !== null; c = c.hashNext) all.push(c);
    return all;
  }

  newId(): number {
    return this.nextId;
  }
}
