/**
 * Memory limits and allocation: a flood of out-of-order segments never holds more than the page
 * budget (every skipped range becomes a `buffer-limit` gap), and steady in-order traffic allocates
 * nothing per packet in the engine.
 */
import { describe, expect, it } from 'vitest';
import { heapGrowth } from '../helpers/heap';
import { TcpHeader } from '../../main/engine/decode/layers';
import { Assembler, StreamPool, type AssemblerContext, type CaptureInfo, type ConnectionState, type ScatterGather, type Stream } from '../../main/engine/reassembly';

class Counter implements Stream {
  bytes = 0;
  conn!: ConnectionState;
  attach(c: ConnectionState) {
    this.conn = c;
  }
  accept() {
    return true;
  }
  reassembledSG(sg: ScatterGather) {
    const [n, kept] = sg.lengths();
    this.bytes += n - kept;
  }
  reassemblyComplete() {
    return true;
  }
}

function harness(opts: ConstructorParameters<typeof Assembler>[1]) {
  const streams: Counter[] = [];
  const pool = new StreamPool({ new: () => (streams.push(new Counter()), streams.at(-1)!) });
  const asm = new Assembler(pool, opts);
  const ci: CaptureInfo = { tsSec: 1, tsNsec: 0, frame: 0, capLen: 0, origLen: 0 };
  const ctx: AssemblerContext = { captureInfo: () => ci };
  const tcp = new TcpHeader();
  const src = Uint8Array.of(10, 0, 0, 1);
  const dst = Uint8Array.of(10, 0, 0, 2);
  const net = { ipVersion: 4, src, dst, vlan: -1 };
  const payload = new Uint8Array(1460).fill(0x61);
  const seg = { tcp, buf: payload, payloadOffset: 0, payloadLength: 0, payloadCaptured: 0 };
  const send = (port: number, seq: number, flags: number, len: number) => {
    tcp.srcPort = port;
    tcp.dstPort = 80;
    tcp.seq = seq >>> 0;
    tcp.ack = 0;
    tcp.flags = flags;
    seg.payloadLength = seg.payloadCaptured = len;
    ci.frame++;
    asm.assemble(net, seg, ctx);
  };
  return { asm, streams, send };
}

describe('page budgets', () => {
  it('a flood of out-of-order segments stays within the budgets; skipped ranges are buffer-limit gaps', () => {
    const perConn = 64;
    const total = 200;
    const { asm, streams, send } = harness({ maxBufferedPagesPerConnection: perConn, maxBufferedPagesTotal: total });
    let maxUsed = 0;
    let holes = 0;
    for (let c = 0; c < 8; c++) send(2000 + c, 1000, 0x02, 0); // SYNs
    for (let i = 0; i < 3000; i++) {
      const c = i % 8;
      // 100-byte segments with a 10-byte hole before each: nothing is ever in order.
      send(2000 + c, 1001 + 10 + Math.floor(i / 8) * 110, 0x10, 100);
      holes++;
      maxUsed = Math.max(maxUsed, asm.cache.used);
      for (const s of streams) expect(s.conn.halves[0].anomalyObject()['buffer-limit'] ?? 0).toBeGreaterThanOrEqual(0);
    }
    expect(maxUsed).toBeLessThanOrEqual(total);
    for (const s of streams) {
      const h = s.conn.halves[0] as unknown as { pages: number };
      expect(h.pages).toBeLessThanOrEqual(perConn);
    }
    const gaps = streams.flatMap((s) => s.conn.halves[0].gaps);
    const limitGaps = gaps.filter((g) => g.cause === 'buffer-limit');
    expect(limitGaps.length).toBeGreaterThan(0);
    expect(gaps.every((g) => g.cause === 'buffer-limit')).toBe(true);
    expect(gaps.every((g) => g.length === 10)).toBe(true);
    asm.flushAll();
    // Every byte sent was delivered or reported as a gap, nothing else.
    const delivered = streams.reduce((s, x) => s + x.bytes, 0);
    const skipped = streams.reduce((s, x) => s + x.conn.halves[0].gapBytes, 0);
    expect(delivered).toBe(holes * 100);
    expect(skipped).toBe(holes * 10);
    expect(asm.cache.used).toBe(0);
  });

  it('limits are never "unlimited"', () => {
    expect(() => harness({ maxBufferedPagesTotal: 0 })).toThrow(RangeError);
  });

  it('the page cache gives memory back after a spike', () => {
    const { asm, send } = harness({});
    send(3000, 5000, 0x02, 0);
    for (let i = 0; i < 2000; i++) send(3000, 5001 + 10 + i * 1460, 0x10, 1460);
    expect(asm.cache.used).toBeGreaterThan(1000);
    asm.flushAll();
    expect(asm.cache.used).toBe(0);
    expect(asm.cache.freePages).toBeLessThanOrEqual(256);
  });
});

describe('allocation', () => {
  it('steady in-order traffic allocates nothing per packet in the engine', () => {
    const { streams, send } = harness({});
    const conns = 16;
    // ISNs high in the sequence space, so they are past 2^31 and cross the wrap during the run.
    const seqs = new Array(conns).fill(0).map((_, i) => (0xfff00000 + i * 100_000) >>> 0);
    for (let c = 0; c < conns; c++) send(4000 + c, seqs[c]++, 0x02, 0);
    let packets = 0;
    const { extraBytes } = heapGrowth((n) => {
      for (let i = 0; i < n; i++) {
        const c = i % conns;
        send(4000 + c, seqs[c], 0x18, 1460);
        seqs[c] = (seqs[c] + 1460) >>> 0;
      }
      packets += n;
    });
    expect(streams.reduce((s, x) => s + x.bytes, 0)).toBe(packets * 1460);
    // 900,000 more packets: 8 bytes each would be 7 MB.
    expect(extraBytes).toBeLessThan(64 * 1024);
  });
});
