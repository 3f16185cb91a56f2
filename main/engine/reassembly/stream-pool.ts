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
 * A SYN without ACK on a tombstoned key is a new connection (port reuse). A tombstone is a row
 * of numbers (tombstones.ts), never the connection itself: a closed connection keeps nothing else.
 *
 * Cost of a live connection: one Connection and two HalfConnections of plain number fields (no
 * typed arrays; counters and lists are made when first needed) plus what its Stream holds.
 */
import { endpointOfWords } from '../decode/addr';
import { HalfConnection, UNUSED_HALVES } from './half-connection';
import { PageCache } from './page-cache';
import { TombstoneTable, type TombKey } from './tombstones';
import type { CloseReason, ConnectionState, Stream, StreamFactory, TCPFlowDirection } from './types';

export type { CloseReason };

const CLIENT_IS_A = 1, INFERRED = 2, COMPLETED = 4, REMOVED = 8, PARKED = 16;

export class Connection implements ConnectionState, TombKey {
  /** Next connection in the same hash bucket. */
  hashNext: Connection | null = null;
  /** Neighbours in the pool's activity list (least recently active first). */
  lruPrev: Connection | null = null;
  lruNext: Connection | null = null;
  hash = 0;
  readonly id: number;
  ipVersion = 4;
  /** VLAN id of the first packet (-1 untagged). */
  vlan = -1;
  /** VLAN id of packets from endpoint A / B (VLAN_UNSEEN until one arrives). */
  vlanA = VLAN_UNSEEN;
  vlanB = VLAN_UNSEEN;
  /**
   * Canonical endpoints, A ordering before B: addresses as 32-bit words (IPv4 uses a0 / b0 only),
   * numbers rather than typed arrays so a connection is one object of plain fields.
   */
  a0 = 0;
  a1 = 0;
  a2 = 0;
  a3 = 0;
  b0 = 0;
  b1 = 0;
  b2 = 0;
  b3 = 0;
  portA = 0;
  portB = 0;
  /** The client's and the server's direction; one that has sent nothing is the shared frozen stand-in (see half()). */
  h0: HalfConnection = UNUSED_HALVES[0];
  h1: HalfConnection = UNUSED_HALVES[1];
  /** `halves` once asked for (an array per connection only for those who read it that way). */
  private both: [HalfConnection, HalfConnection] | null = null;
  stream!: Stream;
  firstSec = 0;
  firstNsec = 0;
  lastSec = 0;
  lastNsec = 0;
  closeReason: CloseReason | null = null;
  /** clientIsA, directionInferred, completed, removed as bits (a connection is kept small). */
  private bits = CLIENT_IS_A;

  constructor(id: number) {
    this.id = id;
  }

  private flag(bit: number, on: boolean): void {
    this.bits = on ? this.bits | bit : this.bits & ~bit;
  }

  /** The client is endpoint A. */
  get clientIsA(): boolean {
    return (this.bits & CLIENT_IS_A) !== 0;
  }
  set clientIsA(v: boolean) {
    this.flag(CLIENT_IS_A, v);
  }
  /** Client and server were guessed (no SYN or SYN-ACK seen first). */
  get directionInferred(): boolean {
    return (this.bits & INFERRED) !== 0;
  }
  set directionInferred(v: boolean) {
    this.flag(INFERRED, v);
  }
  /** reassemblyComplete has been called; the connection only absorbs packets now. */
  get completed(): boolean {
    return (this.bits & COMPLETED) !== 0;
  }
  set completed(v: boolean) {
    this.flag(COMPLETED, v);
  }
  /**
   * Quiet past the idle time: its pages were delivered past their holes and it waits, out of the
   * activity list, for a packet that continues it (or for the park to end it). Still in the table.
   */
  get parked(): boolean {
    return (this.bits & PARKED) !== 0;
  }
  /** Removed from the pool's table. */
  get removed(): boolean {
    return (this.bits & REMOVED) !== 0;
  }
  set removed(v: boolean) {
    this.flag(REMOVED, v);
  }
  /** Set by the pool (park / unpark), which moves the connection between its lists. */
  setParked(v: boolean): void {
    this.flag(PARKED, v);
  }

  /** Both directions, [client → server, server → client] (the same array each time). */
  get halves(): readonly [HalfConnection, HalfConnection] {
    const b = this.both;
    if (b !== null && b[0] === this.h0 && b[1] === this.h1) return b;
    return (this.both = [this.h0, this.h1]);
  }

  /** Direction `dir`'s state (read only: a silent direction is the shared stand-in). */
  side(dir: TCPFlowDirection): HalfConnection {
    return dir === 0 ? this.h0 : this.h1;
  }

  /** Direction `dir`'s state, made now if the direction has been silent (for writing to it). */
  half(dir: TCPFlowDirection): HalfConnection {
    if (dir === 0) return this.h0 !== UNUSED_HALVES[0] ? this.h0 : (this.h0 = new HalfConnection(0));
    return this.h1 !== UNUSED_HALVES[1] ? this.h1 : (this.h1 = new HalfConnection(1));
  }

  /** Direction of a packet sent from endpoint A (true) or B (false). */
  dirFromA(fromA: boolean): TCPFlowDirection {
    return fromA === this.clientIsA ? 0 : 1;
  }

  get clientPort(): number {
    return this.clientIsA ? this.portA : this.portB;
  }

  get serverPort(): number {
    return this.clientIsA ? this.portB : this.portA;
  }

  /** "ip:port" of the client (IPv6 bracketed), made on demand. */
  get client(): string {
    return this.endpoint(this.clientIsA);
  }

  get server(): string {
    return this.endpoint(!this.clientIsA);
  }

  private endpoint(a: boolean): string {
    return a ? endpointOfWords(this.ipVersion, this.a0, this.a1, this.a2, this.a3, this.portA) : endpointOfWords(this.ipVersion, this.b0, this.b1, this.b2, this.b3, this.portB);
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

/** Endpoint A of `c` has address `w` (its first `words` words). */
function isA(c: Connection, words: number, w: Int32Array<ArrayBufferLike>): boolean {
  return c.a0 === w[0] && (words === 1 || (c.a1 === w[1] && c.a2 === w[2] && c.a3 === w[3]));
}

function isB(c: Connection, words: number, w: Int32Array<ArrayBufferLike>): boolean {
  return c.b0 === w[0] && (words === 1 || (c.b1 === w[1] && c.b2 === w[2] && c.b3 === w[3]));
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

export interface StreamPoolOptions {
  /** Tombstones kept at most (each a row of 64 bytes); past this the oldest is forgotten early. */
  maxTombstones: number;
}

export const DEFAULT_STREAM_POOL_OPTIONS: StreamPoolOptions = { maxTombstones: 1 << 18 };

export class StreamPool {
  /**
   * Hash table: buckets indexed by the key hash's low bits, chained through Connection.hashNext.
   * An array lookup instead of a Map's: this runs for every packet. Doubles past 3/4 load.
   */
  private buckets: (Connection | null)[] = new Array(1024).fill(null);
  private mask = 1023;
  private readonly tombs: TombstoneTable;
  /** The lookup's key in canonical order, for the tombstone table (one reused object). */
  private readonly key: TombKey = { hash: 0, ipVersion: 0, vlanA: 0, vlanB: 0, portA: 0, portB: 0, a0: 0, a1: 0, a2: 0, a3: 0, b0: 0, b1: 0, b2: 0, b3: 0 };
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
  /**
   * Every live connection, least recently active first: touch() moves a connection to the end
   * when a packet of it arrives, so idle connections gather at the head (idle flushes walk from
   * there and stop at the first busy one) and the head is the one a full table gives up.
   */
  lruHead: Connection | null = null;
  lruTail: Connection | null = null;
  /**
   * Parked connections (idle, waiting to be continued), in the order they were parked — the order
   * of their last activity — linked through the same lruPrev / lruNext fields.
   */
  parkedHead: Connection | null = null;
  parkedTail: Connection | null = null;
  /** Connections parked now (counted in `size` too). */
  parkedCount = 0;

  /** Out-of-order pages of all connections, shared by the assemblers that use this pool. */
  readonly pageCache = new PageCache();

  constructor(
    readonly factory: StreamFactory,
    opts: Partial<StreamPoolOptions> = {},
  ) {
    const o = { ...DEFAULT_STREAM_POOL_OPTIONS, ...opts };
    if (!(o.maxTombstones > 0)) throw new RangeError('maxTombstones must be positive');
    this.tombs = new TombstoneTable(o.maxTombstones);
  }

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
      if (last.portA === sport && last.portB === dport && last.vlanA === vlan && isA(last, words, s) && isB(last, words, d)) {
        f.conn = last;
        f.fromA = true;
        f.hash = last.hash;
        return f;
      }
      if (last.portA === dport && last.portB === sport && last.vlanB === vlan && isA(last, words, d) && isB(last, words, s)) {
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
        ? c.portA === sport && c.portB === dport && isA(c, words, s) && isB(c, words, d)
        : c.portA === dport && c.portB === sport && isA(c, words, d) && isB(c, words, s);
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
    c.ipVersion = version;
    c.vlan = vlan;
    if (f.fromA) c.vlanA = vlan;
    else c.vlanB = vlan;
    c.hash = f.hash;
    // each view keeps to its own array (a view flipped between arrays would be remade per call)
    const sw = this.srcWords.of(src);
    const dw = this.dstWords.of(dst);
    const a = f.fromA ? sw : dw;
    const b = f.fromA ? dw : sw;
    c.a0 = a[0];
    c.b0 = b[0];
    if (version === 6) {
      c.a1 = a[1];
      c.a2 = a[2];
      c.a3 = a[3];
      c.b1 = b[1];
      c.b2 = b[2];
      c.b3 = b[3];
    }
    c.portA = f.fromA ? sport : dport;
    c.portB = f.fromA ? dport : sport;
    const i = f.hash & this.mask;
    c.hashNext = this.buckets[i];
    this.buckets[i] = c;
    this.size++;
    this.last = c;
    this.append(c);
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

  /** A packet of `c` arrived: it becomes the most recently active connection. */
  touch(c: Connection): void {
    if (this.lruTail === c || c.removed || c.parked) return;
    this.unlinkLru(c);
    this.append(c);
  }

  /** Moves an idle connection from the activity list to the end of the parked list. */
  park(c: Connection): void {
    if (c.parked || c.removed) return;
    this.unlinkLru(c);
    c.setParked(true);
    c.lruPrev = this.parkedTail;
    c.lruNext = null;
    if (this.parkedTail !== null) this.parkedTail.lruNext = c;
    else this.parkedHead = c;
    this.parkedTail = c;
    this.parkedCount++;
  }

  /** A parked connection is continued: back to the activity list, as the most recently active. */
  unpark(c: Connection): void {
    if (!c.parked) return;
    this.unlinkLru(c);
    this.append(c);
  }

  private append(c: Connection): void {
    c.lruPrev = this.lruTail;
    c.lruNext = null;
    if (this.lruTail !== null) this.lruTail.lruNext = c;
    else this.lruHead = c;
    this.lruTail = c;
  }

  /** Unlinks `c` from the list it is on (the activity list, or the parked list when parked). */
  private unlinkLru(c: Connection): void {
    if (c.parked) {
      if (c.lruPrev !== null) c.lruPrev.lruNext = c.lruNext;
      else this.parkedHead = c.lruNext;
      if (c.lruNext !== null) c.lruNext.lruPrev = c.lruPrev;
      else this.parkedTail = c.lruPrev;
      c.setParked(false);
      this.parkedCount--;
    } else {
      if (c.lruPrev !== null) c.lruPrev.lruNext = c.lruNext;
      else this.lruHead = c.lruNext;
      if (c.lruNext !== null) c.lruNext.lruPrev = c.lruPrev;
      else this.lruTail = c.lruPrev;
    }
    c.lruPrev = c.lruNext = null;
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
    this.unlinkLru(c);
    if (this.last === c) this.last = null;
    this.size--;
  }

  /** Leaves a tombstone for a connection that ended on FIN or RST (a few numbers, not the connection). */
  bury(c: Connection, untilSec: number): void {
    this.tombs.add(c, untilSec, c.id * 2 + (c.clientIsA ? 1 : 0));
  }

  /** Fills the scratch key with the packet just looked up, in canonical order. */
  private keyOf(version: number, src: Uint8Array, sport: number, dst: Uint8Array, dport: number, f: Found): TombKey {
    const k = this.key;
    // each view keeps to its own array (a view flipped between arrays would be remade per call)
    const sw = this.srcWords.of(src);
    const dw = this.dstWords.of(dst);
    const a = f.fromA ? sw : dw;
    const b = f.fromA ? dw : sw;
    const v6 = version === 6;
    k.hash = f.hash;
    k.ipVersion = version;
    k.portA = f.fromA ? sport : dport;
    k.portB = f.fromA ? dport : sport;
    k.a0 = a[0];
    k.a1 = v6 ? a[1] : 0;
    k.a2 = v6 ? a[2] : 0;
    k.a3 = v6 ? a[3] : 0;
    k.b0 = b[0];
    k.b1 = v6 ? b[1] : 0;
    k.b2 = v6 ? b[2] : 0;
    k.b3 = v6 ? b[3] : 0;
    return k;
  }

  /** True if the key just looked up (same arguments as lookup) is tombstoned. */
  /**
   * The tombstone of the key just looked up, as its owner (connection id × 2, + 1 when the
   * client is endpoint A), or -1 when the key is not buried.
   */
  buried(version: number, vlan: number, src: Uint8Array, sport: number, dst: Uint8Array, dport: number, f: Found): number {
    if (this.tombs.size === 0) return -1;
    const slot = this.tombs.find(this.keyOf(version, src, sport, dst, dport, f), vlan, VLAN_UNSEEN, false);
    return slot < 0 ? -1 : this.tombs.ownerOf(slot);
  }

  /** Forgets the tombstone of the key just looked up (a new connection takes it over). */
  unbury(version: number, src: Uint8Array, sport: number, dst: Uint8Array, dport: number, f: Found): void {
    if (this.tombs.size === 0) return;
    this.tombs.remove(this.keyOf(version, src, sport, dst, dport, f));
  }

  /** Drops tombstones that expired before `nowSec`. */
  sweepTombstones(nowSec: number): void {
    this.tombs.sweep(nowSec);
  }

  get tombstoneCount(): number {
    return this.tombs.size;
  }

  /**
   * Every live connection, parked ones and then the rest, least recently active first (a snapshot: safe to remove connections
   * while going through it). O(n) and allocates an array of n: for reports and the end of input,
   * not for a per-packet or per-second path (idle flushes walk lruHead instead).
   */
  connections(): Connection[] {
    const all: Connection[] = [];
    for (let c = this.parkedHead; c !== null; c = c.lruNext) all.push(c);
    for (let c = this.lruHead; c !== null; c = c.lruNext) all.push(c);
    return all;
  }

  newId(): number {
    return this.nextId;
  }

  /** Takes the next id for something that is not a TCP connection (a UDP conversation): one id space, in order of first packet. */
  takeId(): number {
    return this.nextId++;
  }
}
