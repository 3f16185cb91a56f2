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

/** Compares endpoint (a, pa) with (b, pb): <0, 0, >0. */
function compareEndpoint(len: number, a: Uint8Array, pa: number, b: Uint8Array, pb: number): number {
  for (let i = 0; i < len; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return pa - pb;
}

function sameAddr(len: number, a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < len; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A connection endpoint whose VLAN is not known yet (no packet from it so far). */
export const VLAN_UNSEEN = -2;

function hashKey(len: number, a: Uint8Array, pa: number, b: Uint8Array, pb: number, version: number): number {
  // FNV-1a over the canonical key, 32-bit.
  let h = 0x811c9dc5 ^ version;
  for (let i = 0; i < len; i++) h = Math.imul(h ^ a[i], 0x01000193);
  h = Math.imul(h ^ pa, 0x01000193);
  for (let i = 0; i < len; i++) h = Math.imul(h ^ b[i], 0x01000193);
  h = Math.imul(h ^ pb, 0x01000193);
  return h | 0; // int32: a Smi key, never a boxed heap number (see sequence.ts)
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
  addrA: Uint8Array;
  addrB: Uint8Array;
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
    const len = version === 6 ? 16 : 4;
    const cmp = compareEndpoint(len, src, sport, dst, dport);
    const fromA = cmp <= 0;
    const h = fromA ? hashKey(len, src, sport, dst, dport, version) : hashKey(len, dst, dport, src, sport, version);
    const f = this.found;
    f.hash = h;
    f.fromA = fromA;
    f.conn = null;
    let fallback: Connection | null = null;
    let fallbackScore = -1;
    for (let c = this.table.get(h) ?? null; c !== null; c = c.hashNext) {
      if (c.ipVersion !== version) continue;
      const same = fromA
        ? c.portA === sport && c.portB === dport && sameAddr(len, c.addrA, src) && sameAddr(len, c.addrB, dst)
        : c.portA === dport && c.portB === sport && sameAddr(len, c.addrA, dst) && sameAddr(len, c.addrB, src);
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
      addrA: c.addrA,
      addrB: c.addrB,
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
    const len = version === 6 ? 16 : 4;
    const [a, pa, b, pb] = f.fromA ? [src, sport, dst, dport] : [dst, dport, src, sport];
    return list.some((t) => t.ipVersion === version && (t.vlanA === vlan || t.vlanB === vlan || t.vlanA === VLAN_UNSEEN || t.vlanB === VLAN_UNSEEN) && t.portA === pa && t.portB === pb && sameAddr(len, t.addrA, a) && sameAddr(len, t.addrB, b));
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
