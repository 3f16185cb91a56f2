/**
 * Tombstones: the keys of connections that ended on FIN or RST, kept for a while of capture time
 * so the final ACK and late retransmissions do not create ghost connections (DESIGN.md). Each row
 * names its connection (id and which side is the client), so a packet it absorbs can still be
 * told to the connection's packet list.
 *
 * A capture of many short connections buries one key per connection, so a tombstone must cost a
 * few numbers, not objects: each is one row of 15 int32 words in a ring, plus its expiry time.
 *
 *   ring (oldest first):  head ─▶ [row][row][row]…[row] ◀─ head + count      rows expire in order
 *   row:  hash │ version │ vlanA │ vlanB │ ports │ a0 a1 a2 a3 │ b0 b1 b2 b3 │ next-in-bucket │ owner
 *   index: bucket[hash & mask] ─▶ row + 1 ─▶ next-in-bucket ─▶ …  (0 ends a chain)
 *
 * Rows are added at the ring's tail and expire from its head: expiry times are the bury time plus
 * a constant, so on a capture clock they come in order (a packet whose time went backwards only
 * makes its tombstone outlive its neighbours a little). The ring doubles when full, up to
 * `maxRows`; then the oldest tombstone is forgotten early (the worst that can follow is one late
 * ACK seen as a connection of its own). A row taken back by port reuse is marked dead and leaves
 * the ring when the head reaches it.
 */

/** Row layout: word offsets within a row. */
const HASH = 0;
const VERSION = 1; // 0 marks a dead row
const VLAN_A = 2;
const VLAN_B = 3;
const PORTS = 4;
const ADDR_A = 5;
const ADDR_B = 9;
const NEXT = 13;
const OWNER = 14; // connection id × 2 + 1 when the client is endpoint A
const STRIDE = 15;

/** The key fields of a tombstone or of a lookup, as the pool holds them. */
export interface TombKey {
  hash: number;
  ipVersion: number;
  vlanA: number;
  vlanB: number;
  portA: number;
  portB: number;
  a0: number;
  a1: number;
  a2: number;
  a3: number;
  b0: number;
  b1: number;
  b2: number;
  b3: number;
}

export class TombstoneTable {
  private rows: Int32Array;
  private until: Float64Array;
  private buckets: Int32Array;
  private cap: number;
  private head = 0;
  /** Rows in the ring, dead ones included. */
  private used = 0;
  /** Live tombstones. */
  size = 0;
  /** Tombstones forgotten before their time because the table was full. */
  evicted = 0;

  constructor(
    private readonly maxRows: number,
    initial = 1024,
  ) {
    this.cap = initial;
    this.rows = new Int32Array(initial * STRIDE);
    this.until = new Float64Array(initial);
    this.buckets = new Int32Array(initial * 2);
  }

  /** Buries key `k` until `untilSec` (capture seconds); `owner` names its connection (see ownerOf). */
  add(k: TombKey, untilSec: number, owner = 0): void {
    if (this.used === this.cap) {
      if (this.cap * 2 <= this.maxRows) this.grow();
      else {
        if (this.alive(this.head)) this.evicted++;
        this.dropHead();
      }
    }
    const slot = (this.head + this.used) % this.cap;
    const r = this.rows;
    const o = slot * STRIDE;
    r[o + HASH] = k.hash;
    r[o + VERSION] = k.ipVersion;
    r[o + VLAN_A] = k.vlanA;
    r[o + VLAN_B] = k.vlanB;
    r[o + PORTS] = (k.portA << 16) | k.portB;
    r[o + ADDR_A] = k.a0;
    r[o + ADDR_A + 1] = k.a1;
    r[o + ADDR_A + 2] = k.a2;
    r[o + ADDR_A + 3] = k.a3;
    r[o + ADDR_B] = k.b0;
    r[o + ADDR_B + 1] = k.b1;
    r[o + ADDR_B + 2] = k.b2;
    r[o + ADDR_B + 3] = k.b3;
    r[o + OWNER] = owner;
    this.until[slot] = untilSec;
    this.link(slot);
    this.used++;
    this.size++;
  }

  /**
   * The live tombstone matching `k`'s endpoints (canonical order) whose VLANs fit `vlan` (either
   * side's, or a side never seen), or -1. `vlanUnseen` is the pool's marker for a side not seen.
   */
  find(k: TombKey, vlan: number, vlanUnseen: number, anyVlan: boolean): number {
    const r = this.rows;
    const ports = (k.portA << 16) | k.portB;
    for (let s = this.buckets[k.hash & (this.buckets.length - 1)]; s !== 0; s = r[(s - 1) * STRIDE + NEXT]) {
      const o = (s - 1) * STRIDE;
      if (r[o + HASH] !== k.hash || r[o + VERSION] !== k.ipVersion || r[o + PORTS] !== ports) continue;
      if (r[o + ADDR_A] !== k.a0 || r[o + ADDR_B] !== k.b0) continue;
      if (k.ipVersion === 6 && (r[o + ADDR_A + 1] !== k.a1 || r[o + ADDR_A + 2] !== k.a2 || r[o + ADDR_A + 3] !== k.a3 || r[o + ADDR_B + 1] !== k.b1 || r[o + ADDR_B + 2] !== k.b2 || r[o + ADDR_B + 3] !== k.b3)) continue;
      const va = r[o + VLAN_A];
      const vb = r[o + VLAN_B];
      if (anyVlan || va === vlan || vb === vlan || va === vlanUnseen || vb === vlanUnseen) return s - 1;
    }
    return -1;
  }

  /** The owner given when row `slot` (from find) was buried: connection id × 2, + 1 when its client is endpoint A. */
  ownerOf(slot: number): number {
    return this.rows[slot * STRIDE + OWNER];
  }

  /** Takes back every live tombstone of `k`'s endpoints, whatever their VLANs (a new connection takes the key over). */
  remove(k: TombKey): void {
    for (let s = this.find(k, 0, 0, true); s >= 0; s = this.find(k, 0, 0, true)) {
      this.unlink(s);
      this.rows[s * STRIDE + VERSION] = 0;
      this.size--;
    }
  }

  /** Forgets tombstones that expired before `nowSec`. */
  sweep(nowSec: number): void {
    while (this.used > 0 && (!this.alive(this.head) || this.until[this.head] < nowSec)) this.dropHead();
  }

  private alive(slot: number): boolean {
    return this.rows[slot * STRIDE + VERSION] !== 0;
  }

  private dropHead(): void {
    const s = this.head;
    if (this.alive(s)) {
      this.unlink(s);
      this.rows[s * STRIDE + VERSION] = 0;
      this.size--;
    }
    this.head = (this.head + 1) % this.cap;
    this.used--;
  }

  private link(slot: number): void {
    const o = slot * STRIDE;
    const b = this.rows[o + HASH] & (this.buckets.length - 1);
    this.rows[o + NEXT] = this.buckets[b];
    this.buckets[b] = slot + 1;
  }

  private unlink(slot: number): void {
    const r = this.rows;
    const b = r[slot * STRIDE + HASH] & (this.buckets.length - 1);
    let s = this.buckets[b];
    if (s === slot + 1) {
      this.buckets[b] = r[slot * STRIDE + NEXT];
      return;
    }
    while (s !== 0) {
      const o = (s - 1) * STRIDE;
      if (r[o + NEXT] === slot + 1) {
        r[o + NEXT] = r[slot * STRIDE + NEXT];
        return;
      }
      s = r[o + NEXT];
    }
  }

  /** Doubles the ring, laying its rows out from 0 in age order, and rebuilds the index. */
  private grow(): void {
    const cap = this.cap * 2;
    const rows = new Int32Array(cap * STRIDE);
    const until = new Float64Array(cap);
    for (let i = 0; i < this.used; i++) {
      const from = (this.head + i) % this.cap;
      rows.set(this.rows.subarray(from * STRIDE, from * STRIDE + STRIDE), i * STRIDE);
      until[i] = this.until[from];
    }
    this.rows = rows;
    this.until = until;
    this.cap = cap;
    this.head = 0;
    this.buckets = new Int32Array(cap * 2);
    for (let i = 0; i < this.used; i++) if (this.alive(i)) this.link(i);
  }
}
