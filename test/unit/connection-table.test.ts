/**
 * The connection table: bounded by `maxConnections` (the least recently active connection closes
 * with reason `limit`), idle flushes that walk only the idle end, and tombstones kept as rows of
 * numbers that expire in order, grow, and give up their oldest row when full.
 */
import { describe, expect, it } from 'vitest';
import { TcpHeader } from '../../main/engine/decode/layers';
import { Assembler, StreamPool, type AssemblerContext, type CaptureInfo, type CloseReason, type ConnectionState, type ScatterGather, type Stream } from '../../main/engine/reassembly';
import { TombstoneTable, type TombKey } from '../../main/engine/reassembly/tombstones';

interface Seen {
  id: number;
  client: string;
  reason: CloseReason | null;
  bytes: number;
}

function harness(opts: ConstructorParameters<typeof Assembler>[1] = {}) {
  const seen: Seen[] = [];
  /** Connection ids in the order they completed. */
  const closed: number[] = [];
  class S implements Stream {
    conn!: ConnectionState;
    rec!: Seen;
    attach(c: ConnectionState) {
      this.conn = c;
      this.rec = { id: c.id, client: c.client, reason: null, bytes: 0 };
      seen.push(this.rec);
    }
    accept() {
      return true;
    }
    reassembledSG(sg: ScatterGather) {
      const [n, k] = sg.lengths();
      this.rec.bytes += n - k;
    }
    reassemblyComplete(_c: AssemblerContext, reason: CloseReason) {
      expect(this.rec.reason).toBeNull(); // exactly once
      this.rec.reason = reason;
      closed.push(this.rec.id);
      return true;
    }
  }
  const pool = new StreamPool({ new: () => new S() });
  const asm = new Assembler(pool, opts);
  const ci: CaptureInfo = { tsSec: 1000, tsNsec: 0, frame: 0, capLen: 0, origLen: 0 };
  const ctx: AssemblerContext = { captureInfo: () => ci };
  const tcp = new TcpHeader();
  const src = new Uint8Array(16);
  const dst = new Uint8Array(16);
  const net = { ipVersion: 4, src, dst, vlan: -1 };
  const payload = new Uint8Array(100).fill(0x62);
  const seg = { tcp, buf: payload, payloadOffset: 0, payloadLength: 0, payloadCaptured: 0 };
  /** A packet from 10.(n>>16).(n>>8).n:port to 192.0.2.1:80. */
  const send = (n: number, port: number, seq: number, flags: number, len = 0, ack = 0) => {
    src.set([10, (n >> 16) & 255, (n >> 8) & 255, n & 255]);
    dst.set([192, 0, 2, 1]);
    tcp.srcPort = port;
    tcp.dstPort = 80;
    tcp.seq = seq >>> 0;
    tcp.ack = ack >>> 0;
    tcp.flags = flags;
    seg.payloadLength = seg.payloadCaptured = len;
    ci.frame++;
    asm.assemble(net, seg, ctx);
  };
  return { asm, pool, seen, closed, send, ci };
}

describe('connection limit', () => {
  it('a SYN flood over the limit closes the least recently active with `limit`; the table never passes it; every connection is reported once', () => {
    const max = 500;
    const { asm, pool, seen, closed, send } = harness({ maxConnections: max });
    let highest = 0;
    for (let i = 0; i < 5000; i++) {
      send(i, 1024 + (i % 60000), 1000 + i, 0x02); // SYN from a new source each time
      highest = Math.max(highest, pool.size);
      if (i === 100) send(7, 1024 + 7, 1000 + 7, 0x02); // retransmitted SYN: connection 8 is busy again
    }
    expect(highest).toBe(max);
    expect(asm.stats.connectionsLimited).toBe(5000 - max);
    asm.flushAll();
    expect(seen).toHaveLength(5000);
    const reasons = seen.map((s) => s.reason);
    expect(reasons.filter((r) => r === 'limit')).toHaveLength(5000 - max);
    expect(reasons.filter((r) => r === 'end-of-input')).toHaveLength(max);
    // least recently active first: connection 1 went first, and 8 (touched again) outlived 9
    expect(seen[0].reason).toBe('limit');
    const eight = seen.find((s) => s.id === 8)!;
    const nine = seen.find((s) => s.id === 9)!;
    expect([eight.reason, nine.reason]).toEqual(['limit', 'limit']);
    expect(closed.indexOf(8)).toBeGreaterThan(closed.indexOf(9));
    expect(closed.slice(0, 7)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    // the survivors are the newest
    expect(seen.filter((s) => s.reason === 'end-of-input').map((s) => s.id)).toEqual(Array.from({ length: max }, (_, i) => 5000 - max + 1 + i));
    expect(pool.size).toBe(0);
  });

  it('a connection closed by the limit keeps its bytes and waiting data is delivered as buffer-limit gaps', () => {
    const { asm, seen, send } = harness({ maxConnections: 1 });
    send(1, 5000, 100, 0x02);
    send(1, 5000, 101, 0x18, 100); // in order
    send(1, 5000, 301, 0x18, 100); // beyond a 100-byte hole: buffered
    send(2, 5000, 700, 0x02); // the table is full: connection 1 closes
    expect(seen[0]).toMatchObject({ reason: 'limit', bytes: 200 });
    expect(asm.stats.connectionsLimited).toBe(1);
    asm.flushAll();
    expect(seen.map((s) => s.reason)).toEqual(['limit', 'end-of-input']);
  });

  it('what a connection closed by the limit still sends is absorbed, not reported as more connections', () => {
    const { asm, seen, send } = harness({ maxConnections: 2 });
    send(1, 5000, 100, 0x02);
    send(1, 5000, 101, 0x18, 100);
    send(2, 5000, 100, 0x02);
    send(3, 5000, 100, 0x02); // full: connection 1 (least recently active) closes
    send(1, 5000, 201, 0x18, 100); // it goes on talking
    send(1, 5000, 301, 0x19, 100);
    expect(asm.stats.tombstoneHits).toBe(2);
    asm.flushAll();
    expect(seen.map((s) => [s.id, s.reason])).toEqual([
      [1, 'limit'],
      [2, 'end-of-input'],
      [3, 'end-of-input'],
    ]);
  });

  it('refuses a table without a limit', () => {
    expect(() => harness({ maxConnections: 0 })).toThrow(/maxConnections/);
  });
});

describe('idle flushes walk the idle end only', () => {
  it('closes exactly the connections idle past the bound, oldest first, and leaves the busy ones', () => {
    const { asm, pool, seen, send, ci } = harness();
    for (let i = 0; i < 100; i++) {
      ci.tsSec = 1000 + i;
      send(i, 2000, 1, 0x02);
    }
    // connections 1..30 are touched again late: they are busy
    for (let i = 0; i < 30; i++) {
      ci.tsSec = 1200;
      send(i, 2000, 1, 0x02);
    }
    const r = asm.flushCloseOlderThan(1050); // idle since before 1050: connections 31..50
    expect(r.closed).toBe(20);
    expect(seen.filter((s) => s.reason === 'idle').map((s) => s.id)).toEqual(Array.from({ length: 20 }, (_, i) => 31 + i));
    expect(pool.size).toBe(80);
    expect(pool.connections()[0].id).toBe(51); // the least recently active now
  });
});

describe('parked connections', () => {
  it('a full table gives up parked connections first, as idle, oldest first, before any active one', () => {
    const { asm, pool, seen, send, ci } = harness({ maxConnections: 10, parkSec: 3600 });
    for (let i = 0; i < 10; i++) {
      ci.tsSec = 1000 + i;
      send(i, 2000, 1, 0x02);
    }
    asm.flushCloseOlderThan(1003); // connections 1..3 park
    expect(pool.parkedCount).toBe(3);
    for (let i = 10; i < 14; i++) {
      ci.tsSec = 1100;
      send(i, 2000, 1, 0x02);
    }
    expect(seen.filter((s) => s.reason !== null).map((s) => [s.id, s.reason])).toEqual([
      [1, 'idle'],
      [2, 'idle'],
      [3, 'idle'],
      [4, 'limit'],
    ]);
    expect(asm.stats.connectionsLimited).toBe(1);
    expect(pool.parkedCount).toBe(0);
    expect(pool.size).toBe(10);
  });
});

describe('tombstones', () => {
  const key = (n: number, hash = n * 2654435761): TombKey => ({ hash: hash | 0, ipVersion: 4, vlanA: -1, vlanB: -1, portA: 1000 + (n % 50000), portB: 80, a0: n, a1: 0, a2: 0, a3: 0, b0: 7, b1: 0, b2: 0, b3: 0 });

  it('finds what was buried, forgets it on remove and at expiry, in order', () => {
    const t = new TombstoneTable(1 << 20, 4);
    for (let i = 0; i < 3000; i++) t.add(key(i), 100 + i); // grows past its first size many times
    expect(t.size).toBe(3000);
    for (const i of [0, 1, 1500, 2999]) expect(t.find(key(i), -1, -2, false)).toBeGreaterThanOrEqual(0);
    expect(t.find(key(3000), -1, -2, false)).toBe(-1);
    t.remove(key(1500));
    expect(t.find(key(1500), -1, -2, false)).toBe(-1);
    expect(t.size).toBe(2999);
    t.sweep(100 + 1000); // everything until 1099 expires
    expect(t.size).toBe(2999 - 1000);
    expect(t.find(key(999), -1, -2, false)).toBe(-1);
    expect(t.find(key(1000), -1, -2, false)).toBeGreaterThanOrEqual(0);
  });

  it('keeps keys that share a hash apart, and matches VLANs as the pool does', () => {
    const t = new TombstoneTable(64, 4);
    t.add({ ...key(1, 5), vlanA: 10, vlanB: 20 }, 50);
    t.add(key(2, 5), 50);
    expect(t.find({ ...key(1, 5) }, 10, -2, false)).toBeGreaterThanOrEqual(0);
    expect(t.find({ ...key(1, 5) }, 20, -2, false)).toBeGreaterThanOrEqual(0);
    expect(t.find({ ...key(1, 5) }, 30, -2, false)).toBe(-1);
    expect(t.find(key(2, 5), -1, -2, false)).toBeGreaterThanOrEqual(0);
    t.remove(key(2, 5));
    expect(t.find(key(1, 5), 10, -2, false)).toBeGreaterThanOrEqual(0);
  });

  it('at its maximum forgets the oldest tombstone early instead of growing', () => {
    const t = new TombstoneTable(256, 16);
    for (let i = 0; i < 1000; i++) t.add(key(i), 1e9);
    expect(t.size).toBe(256);
    expect(t.evicted).toBe(1000 - 256);
    expect(t.find(key(743), -1, -2, false)).toBe(-1);
    expect(t.find(key(744), -1, -2, false)).toBeGreaterThanOrEqual(0);
  });
});
