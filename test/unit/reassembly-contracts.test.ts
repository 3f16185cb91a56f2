/**
 * The contracts around the engine: ScatterGather (keepFrom, captureInfo, fetch), the tcpassembly
 * adapter, readable streams per direction, the completed-streams tracker, and the optional state
 * machine and option checks.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PacketDecoder, TcpHeader, Transport } from '../../main/engine/decode';
import {
  Assembler,
  CompletedStreamTracker,
  ReaderStreamFactory,
  StreamPool,
  tcpassemblyFactory,
  TCPOptionCheck,
  TCPSimpleFSM,
  type AssemblerContext,
  type AssemblerOptions,
  type CaptureInfo,
  type ReaderConnection,
  type Reassembly,
  type ScatterGather,
  type Stream,
} from '../../main/engine/reassembly';
import { readCaptureFile } from '../../main/sources/capture-source';
import { expectedReal, REAL } from '../helpers/fixtures';
import { CLIENT, HANDSHAKE, SERVER, type Step } from '../helpers/tcp-script';

/** Drives an Assembler built on `factory` with a script (client ISN 1000, server ISN 5000). */
/** An assembler over a new pool, and feed(steps) to give it packets (times default to 100 + step index). */
function driver(factory: ConstructorParameters<typeof StreamPool>[0], opts: Partial<AssemblerOptions> = {}) {
  const asm = new Assembler(new StreamPool(factory), opts);
  const ci: CaptureInfo = { tsSec: 0, tsNsec: 0, frame: 0, capLen: 0, origLen: 0 };
  const ctx: AssemblerContext = { captureInfo: () => ci };
  const tcp = new TcpHeader();
  const isn = { c: 1000, s: 5000 };
  const feed = (steps: Step[]) =>
    steps.forEach((st, i) => {
      const flags = (st.flags ?? 'A').split('').reduce((f, ch) => f | ({ F: 1, S: 2, R: 4, P: 8, A: 16 } as Record<string, number>)[ch], 0);
      const data = new TextEncoder().encode(st.data ?? '');
      tcp.srcPort = st.from === 'c' ? 40000 : 80;
      tcp.dstPort = st.from === 'c' ? 80 : 40000;
      tcp.seq = isn[st.from] + (st.seq ?? 0);
      tcp.ack = isn[st.from === 'c' ? 's' : 'c'] + (st.ack ?? 1);
      tcp.flags = flags;
      tcp.setOptions(data, 0, 0);
      ci.frame++;
      ci.tsSec = st.time ?? 100 + i;
      const net = { ipVersion: 4, src: st.from === 'c' ? CLIENT : SERVER, dst: st.from === 'c' ? SERVER : CLIENT, vlan: -1 };
      asm.assemble(net, { tcp, buf: data, payloadOffset: 0, payloadLength: data.length, payloadCaptured: data.length }, ctx);
    });
  return { asm, feed };
}

function drive(factory: ConstructorParameters<typeof StreamPool>[0], steps: Step[]): Assembler {
  const d = driver(factory);
  d.feed(steps);
  return d.asm;
}

const HS: Step[] = HANDSHAKE.map((s) => ({ ...s, seq: s.flags === 'S' ? 0 : s.flags === 'SA' ? 0 : 1 }));

/** A line protocol's stream: `seen` looks at each delivery, then the unterminated tail is kept (keepFrom). */
function lineStream(seen: (sg: ScatterGather, text: string) => void): Stream {
  return {
    accept: () => true,
    reassembledSG(sg: ScatterGather) {
      const [n] = sg.lengths();
      const text = Buffer.from(sg.fetch(n)).toString();
      seen(sg, text);
      const nl = text.lastIndexOf('\n');
      if (nl + 1 < n && sg.info().dir === 0) sg.keepFrom(nl + 1);
    },
    reassemblyComplete: () => true,
  };
}

describe('ScatterGather', () => {
  it('keepFrom carries bytes into the next delivery; captureInfo names the frame of any byte', () => {
    const seen: { text: string; kept: number; frames: number[] }[] = [];
    const line = () =>
      lineStream((sg, text) => {
        const [n, kept] = sg.lengths();
        seen.push({ text, kept, frames: [...Array(n).keys()].map((i) => sg.captureInfo(i).frame) });
        // outside the delivery there is no packet to name: it fails as keepFrom does (it used to give the last one)
        expect(() => sg.captureInfo(n)).toThrow(RangeError);
        expect(() => sg.captureInfo(-1)).toThrow(RangeError);
      });
    drive({ new: line }, [...HS, { from: 'c', seq: 1, data: 'GET /a\nHo' }, { from: 'c', seq: 10, data: 'st: x\n' }]);
    const c2s = seen.filter((s) => s.text);
    expect(c2s[0]).toEqual({ text: 'GET /a\nHo', kept: 0, frames: [4, 4, 4, 4, 4, 4, 4, 4, 4] });
    expect(c2s[1]).toEqual({ text: 'Host: x\n', kept: 2, frames: [4, 4, 5, 5, 5, 5, 5, 5] });
  });

  it('kept bytes are not glued across a gap: they are dropped, and the skip sits right before the chunk (gopacket TestKeepWithFlush)', () => {
    const seen: { text: string; lengths: number[]; skip: number }[] = [];
    const line = () => lineStream((sg, text) => seen.push({ text, lengths: [...sg.lengths()], skip: sg.info().skip }));
    // "GET /a\nHo", keepFrom(7); the next 5 bytes are lost (acknowledged); "st: x\n" arrives
    drive({ new: line }, [...HS, { from: 'c', seq: 1, data: 'GET /a\nHo' }, { from: 's', seq: 1, ack: 15 }, { from: 'c', seq: 15, data: 'st: x\n' }]);
    const c2s = seen.filter((s) => s.text);
    expect(c2s).toEqual([
      { text: 'GET /a\nHo', lengths: [9, 0], skip: 0 },
      { text: 'st: x\n', lengths: [6, 0], skip: 5 },
    ]);
  });
});

describe('tcpassembly-style delivery', () => {
  it('gives each direction Reassembly pieces with skip, start, end and seen', () => {
    const got: { dir: string; r: Omit<Reassembly, 'bytes'> & { text: string } }[] = [];
    let completes = 0;
    const f = tcpassemblyFactory({
      new: (net, transport) => ({
        reassembled(rs) {
          for (const r of rs) got.push({ dir: `${transport.srcPort}>${transport.dstPort}`, r: { ...r, text: Buffer.from(r.bytes).toString(), bytes: undefined } as never });
        },
        reassemblyComplete() {
          completes++;
        },
      }),
    });
    drive(f, [...HS, { from: 'c', seq: 4, data: 'BBB', time: 7 }, { from: 'c', seq: 1, data: 'AAA', time: 8 }, { from: 's', seq: 1, data: 'ok', flags: 'FA' }, { from: 'c', seq: 7, flags: 'FA' }]);
    const c2s = got.filter((g) => g.dir === '40000>80').map((g) => g.r);
    expect(c2s.map((r) => [r.text, r.skip, r.start, r.end, r.seenSec])).toEqual([
      ['AAA', 0, true, false, 8],
      ['BBB', 0, false, false, 7],
      ['', 0, false, true, 106], // stamped with the FIN's packet (default time 100 + step)
    ]);
    expect(got.filter((g) => g.dir === '80>40000').map((g) => [g.r.text, g.r.end])).toEqual([['ok', true]]);
    expect(completes).toBe(2);
  });
});

describe('readable stream per direction', () => {
  it('reads a real connection through two ReadableStreams, bytes matching tshark', async () => {
    const conns: ReaderConnection[] = [];
    const factory = new ReaderStreamFactory((c) => conns.push(c), 4096);
    const asm = new Assembler(new StreamPool(factory));
    const dec = new PacketDecoder();
    const ci: CaptureInfo = { tsSec: 0, tsNsec: 0, frame: 0, capLen: 0, origLen: 0 };
    const reads: Promise<Buffer>[] = [];
    const readAll = async (rs: ReadableStream<Uint8Array>) => {
      const r = rs.getReader();
      const parts: Uint8Array[] = [];
      for (;;) {
        const { done, value } = await r.read();
        if (done) return Buffer.concat(parts);
        parts.push(value!);
      }
    };
    let waited = 0;
    await readCaptureFile(
      join(REAL, 'zeek-http-get.pcap'),
      {
        packet(p) {
          const d = dec.decode(p);
          if (d.transport !== Transport.TCP) return;
          ci.tsSec = p.tsSec;
          ci.frame = p.frame;
          asm.assemble(d, d, { captureInfo: () => ci });
          while (reads.length < conns.length * 2) {
            const c = conns[reads.length / 2];
            reads.push(readAll(c.c2s), readAll(c.s2c));
          }
        },
      },
      {
        chunkSize: 4096,
        afterChunk: async () => {
          waited++;
          await factory.ready();
        },
      },
    );
    asm.flushAll();
    const [c2s, s2c] = await Promise.all(reads);
    const exp = expectedReal()['zeek-http-get.pcap'].connections[0];
    const sha = (b: Buffer) => require('node:crypto').createHash('sha256').update(b).digest('hex');
    expect(sha(c2s)).toBe(exp.sha256_c2s);
    expect(sha(s2c)).toBe(exp.sha256_s2c);
    expect(await conns[0].closed).toBe('fin');
    expect(waited).toBeGreaterThan(0);
  });

  it('a reader connection\'s gaps list the gaps found after it was handed out', async () => {
    const conns: ReaderConnection[] = [];
    const asm = drive(new ReaderStreamFactory((c) => conns.push(c), 1 << 20), [
      ...HS,
      { from: 'c', seq: 1, data: 'abc' },
      { from: 'c', seq: 7, data: 'ghi' }, // 'def' never captured
    ]);
    expect(conns[0].gaps.c2s).toEqual([]);
    asm.flushAll();
    expect(conns[0].gaps.c2s).toEqual([{ offset: 3, length: 3, cause: 'end-of-input' }]);
    expect(conns[0].gaps.s2c).toEqual([]);
  });

  it('ready() waits while a direction is over its high-water mark', async () => {
    const conns: ReaderConnection[] = [];
    const factory = new ReaderStreamFactory((c) => conns.push(c), 8);
    drive(factory, [...HS, { from: 'c', seq: 1, data: 'more than eight bytes' }]);
    let ready = false;
    const p = factory.ready().then(() => (ready = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(ready).toBe(false);
    const reader = conns[0].c2s.getReader();
    expect(Buffer.from((await reader.read()).value!).toString()).toBe('more than eight bytes');
    await p;
    expect(ready).toBe(true);
  });
});

describe('completed streams', () => {
  it('yields each connection once done, with both directions, close reason and anomalies', async () => {
    const t = new CompletedStreamTracker();
    const dec = new PacketDecoder();
    await readCaptureFile(join(REAL, 'zeek-irc-5k-line.pcap'), {
      packet(p) {
        const d = dec.decode(p);
        if (d.transport === Transport.TCP) t.packet(d, d, { tsSec: p.tsSec, tsNsec: p.tsNsec, frame: p.frame, capLen: p.capLen, origLen: p.origLen });
      },
    });
    t.end();
    const got = [];
    for await (const s of t) got.push(s);
    const exp = expectedReal()['zeek-irc-5k-line.pcap'].connections;
    expect(got).toHaveLength(exp.length);
    const sha = (b: Uint8Array) => require('node:crypto').createHash('sha256').update(b).digest('hex');
    for (const e of exp) {
      const s = got.find((g) => [g.client, g.server].sort().join() === [e.client, e.server].sort().join())!;
      const same = s.client === e.client;
      expect(sha(same ? s.c2s.bytes : s.s2c.bytes)).toBe(e.sha256_c2s);
      expect(sha(same ? s.s2c.bytes : s.c2s.bytes)).toBe(e.sha256_s2c);
      expect(['fin', 'rst', 'end-of-input']).toContain(s.close);
    }
  });

  it('closes idle connections after the idle time (capture clock), RST at once', async () => {
    const t = new CompletedStreamTracker({ idleSec: 60 });
    const tcp = new TcpHeader();
    const feed = (sport: number, flags: number, seq: number, data: string, time: number) => {
      tcp.srcPort = sport;
      tcp.dstPort = 80;
      tcp.seq = seq;
      tcp.ack = 0;
      tcp.flags = flags;
      const b = new TextEncoder().encode(data);
      tcp.setOptions(b, 0, 0);
      t.packet({ ipVersion: 4, src: CLIENT, dst: SERVER, vlan: -1 }, { tcp, buf: b, payloadOffset: 0, payloadLength: b.length, payloadCaptured: b.length }, { tsSec: time, tsNsec: 0, frame: 0, capLen: 0, origLen: 0 });
    };
    feed(1111, 0x18, 10, 'idle one', 1000);
    feed(2222, 0x18, 10, 'reset one', 1001);
    feed(2222, 0x14, 19, '', 1002);
    const it = t[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.value).toMatchObject({ close: 'rst', directionInferred: true });
    expect(Buffer.from(first.value!.c2s.bytes).toString()).toBe('reset one');
    expect(t.pending).toBe(0);
    feed(3333, 0x18, 10, 'later', 1070); // capture time moves past the idle limit of 1111
    const second = await it.next();
    expect(second.value).toMatchObject({ close: 'idle' });
    expect(Buffer.from(second.value!.c2s.bytes).toString()).toBe('idle one');
    expect(second.value!.c2s.anomalies).toEqual({ 'missing-handshake': 1 });
    t.end();
    expect((await it.next()).value).toMatchObject({ close: 'end-of-input', client: '10.0.0.1:3333' });
    expect((await it.next()).done).toBe(true);
  });

  it('truncates a direction beyond its byte budget, counting the rest', async () => {
    const t = new CompletedStreamTracker({ maxBytesPerDirection: 4 });
    const tcp = new TcpHeader();
    tcp.srcPort = 5000;
    tcp.dstPort = 80;
    tcp.seq = 1;
    tcp.flags = 0x18;
    const b = new TextEncoder().encode('0123456789');
    t.packet({ ipVersion: 4, src: CLIENT, dst: SERVER, vlan: -1 }, { tcp, buf: b, payloadOffset: 0, payloadLength: 10, payloadCaptured: 10 }, { tsSec: 1, tsNsec: 0, frame: 1, capLen: 0, origLen: 0 });
    t.end();
    const s = (await t[Symbol.asyncIterator]().next()).value!;
    expect([Buffer.from(s.c2s.bytes).toString(), s.c2s.length, s.c2s.truncated]).toEqual(['0123', 10, true]);
  });
});

describe('optional checks', () => {
  const hdr = (flags: number, extra: Partial<TcpHeader> = {}) => Object.assign(new TcpHeader(), { flags }, extra);
  it('TCPSimpleFSM follows a connection and refuses what does not fit', () => {
    const fsm = new TCPSimpleFSM();
    expect(fsm.checkState(hdr(0x10), 0)).toBe(false); // no handshake seen
    expect(fsm.checkState(hdr(0x02), 0)).toBe(true);
    expect(fsm.state).toBe('syn-sent');
    expect(fsm.checkState(hdr(0x12), 1)).toBe(true);
    expect(fsm.checkState(hdr(0x10), 0)).toBe(true);
    expect(fsm.state).toBe('established');
    expect(fsm.checkState(hdr(0x02), 0)).toBe(false); // SYN inside a connection
    expect(fsm.checkState(hdr(0x11), 0)).toBe(true);
    expect(fsm.state).toBe('closing');
    expect(fsm.checkState(hdr(0x11), 1)).toBe(true);
    expect(fsm.state).toBe('closed-fin');
    expect(fsm.checkState(hdr(0x10), 0)).toBe(true); // last ACK
    expect(fsm.checkState(hdr(0x18), 0)).toBe(false);
    const mid = new TCPSimpleFSM({ supportMissingEstablishment: true });
    expect(mid.checkState(hdr(0x18), 1)).toBe(true);
    expect(mid.checkState(hdr(0x04), 0)).toBe(true);
    expect(mid.state).toBe('reset');
    expect(mid.checkState(hdr(0x18), 1)).toBe(false);
  });

  it('TCPOptionCheck: MSS, window scale and timestamps', () => {
    const opts = (mss: number, ws: number, ts?: number) => {
      const b = [2, 4, mss >> 8, mss & 255, 3, 3, ws, 1];
      if (ts !== undefined) b.push(8, 10, ts >>> 24, (ts >> 16) & 255, (ts >> 8) & 255, ts & 255, 0, 0, 0, 0, 1, 1);
      const h = new TcpHeader();
      h.setOptions(Uint8Array.from(b), 0, b.length);
      return h;
    };
    const strict = new TCPOptionCheck({ allowOffload: false });
    const syn = opts(536, 7, 100);
    syn.flags = 0x02;
    expect(strict.accept(syn, 0, 1)).toBeNull();
    const big = new TcpHeader();
    big.flags = 0x10;
    expect(strict.accept(big, 1000, 0)).toMatch(/exceeds the MSS of 536/);
    expect(new TCPOptionCheck().accept(big, 1000, 0)).toBeNull();
    const ws = opts(1460, 3);
    ws.flags = 0x10;
    expect(strict.accept(ws, 0, 0)).toMatch(/without SYN/);
    const tsOnly = (v: number) => {
      const b = [1, 1, 8, 10, v >>> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255, 0, 0, 0, 0];
      const h = new TcpHeader();
      h.setOptions(Uint8Array.from(b), 0, b.length);
      h.flags = 0x10;
      return h;
    };
    const c = new TCPOptionCheck();
    expect(c.accept(tsOnly(1000), 0, 0)).toBeNull();
    expect(c.accept(tsOnly(1001), 0, 0)).toBeNull();
    expect(c.accept(tsOnly(900), 0, 0)).toMatch(/went backwards/);
    expect(c.accept(tsOnly(5), 0, 1)).toBeNull(); // the other direction has its own clock
  });
});

describe('assembler and pool', () => {
  const collect = () => {
    const out = { c2s: '', s2c: '', completes: 0, stats: [] as string[] };
    const factory = {
      new: (): Stream => ({
        accept: () => true,
        reassembledSG(sg: ScatterGather) {
          const [n] = sg.lengths();
          const t = Buffer.from(sg.fetch(n)).toString();
          if (sg.info().dir === 0) out.c2s += t;
          else out.s2c += t;
          const st = sg.stats();
          if (n) out.stats.push(`${st.chunks}/${st.packets}/${st.queuedPackets}/${st.queuedBytes}`);
        },
        reassemblyComplete: () => (out.completes++, true),
      }),
    };
    return { out, factory };
  };

  it('several assemblers can share one pool (and its pages)', () => {
    const { out, factory } = collect();
    const pool = new StreamPool(factory);
    const a = new Assembler(pool);
    const b = new Assembler(pool);
    const tcp = new TcpHeader();
    const ci: CaptureInfo = { tsSec: 1, tsNsec: 0, frame: 0, capLen: 0, origLen: 0 };
    const ctx = { captureInfo: () => ci };
    const send = (asm: Assembler, seq: number, data: string, flags = 0x18) => {
      const buf = new TextEncoder().encode(data);
      Object.assign(tcp, { srcPort: 1234, dstPort: 80, seq, ack: 0, flags });
      tcp.setOptions(buf, 0, 0);
      asm.assemble({ ipVersion: 4, src: CLIENT, dst: SERVER, vlan: -1 }, { tcp, buf, payloadOffset: 0, payloadLength: buf.length, payloadCaptured: buf.length }, ctx);
    };
    send(a, 99, '', 0x02);
    send(b, 104, 'world'); // buffered by b
    expect(pool.pageCache.used).toBe(1);
    send(a, 100, 'hell'); // delivered by a, with b's page
    expect(out.c2s).toBe('hellworld');
    expect(pool.pageCache.used).toBe(0);
    expect(out.stats).toEqual(['2/1/1/5']); // two pieces: one packet, one queued page of 5 bytes
    a.flushAll();
    expect(out.completes).toBe(1);
  });

  it('flushWithOptions: t flushes waiting bytes past holes, tc closes', () => {
    const { out, factory } = collect();
    const asm = drive(factory, [...HS, { from: 'c', seq: 1, data: 'AA', time: 10 }, { from: 'c', seq: 5, data: 'CC', time: 11 }]);
    expect(out.c2s).toBe('AA');
    expect(asm.flushWithOptions({ t: 5, tc: 5 })).toEqual({ flushed: 0, closed: 0, parked: 0 }); // not idle yet
    expect(asm.flushWithOptions({ t: 20, tc: 5 })).toEqual({ flushed: 1, closed: 0, parked: 0 });
    expect(out.c2s).toBe('AACC');
    expect(out.completes).toBe(0);
    expect(asm.flushCloseOlderThan(20)).toEqual({ flushed: 0, closed: 1, parked: 0 });
    expect(out.completes).toBe(1);
  });

  it('parkSec: an idle flush parks (pages delivered, nothing completed); a packet that continues it resumes the same stream', () => {
    const { out, factory } = collect();
    let streams = 0;
    const counting = { new: (...a: Parameters<typeof factory.new>) => (streams++, factory.new(...a)) };
    const { asm, feed } = driver(counting, { parkSec: 3600 });
    feed([...HS, { from: 'c', seq: 1, data: 'AA', time: 10 }, { from: 'c', seq: 5, data: 'CC', time: 11 }]);
    expect(asm.flushCloseOlderThan(600)).toEqual({ flushed: 0, closed: 0, parked: 1 });
    expect(out.c2s).toBe('AACC'); // its memory went: the page was delivered past the hole
    expect(asm.pool.pageCache.used).toBe(0);
    expect(out.completes).toBe(0);
    expect(asm.pool.parkedCount).toBe(1);
    expect(asm.flushCloseOlderThan(700)).toEqual({ flushed: 0, closed: 0, parked: 0 }); // parked ones are not walked again
    feed([{ from: 'c', seq: 7, data: 'DD', time: 900 }, { from: 's', seq: 1, data: 'ok', ack: 9, time: 901 }]);
    expect(streams).toBe(1);
    expect(out.c2s).toBe('AACCDD');
    expect(out.s2c).toBe('ok');
    expect(asm.stats.connectionsResumed).toBe(1);
    const c = asm.pool.connections()[0];
    expect(c.parked).toBe(false);
    expect(c.h0.anomalyObject()).toMatchObject({ 'resumed-after-idle': 1 });
    expect(c.h0.longestQuietSec).toBe(889);
    asm.flushAll();
    expect(out.completes).toBe(1);
  });

  it('parkSec: a packet from another sequence space ends the parked connection as idle; so does the end of its park', () => {
    const { factory } = collect();
    const reasons: string[] = [];
    const noting = {
      new: (...a: Parameters<typeof factory.new>) => {
        const s = factory.new(...a);
        const done = s.reassemblyComplete.bind(s);
        s.reassemblyComplete = (ctx, why) => (reasons.push(why), done(ctx, why));
        return s;
      },
    };
    const far = driver(noting, { parkSec: 3600 });
    far.feed([...HS, { from: 'c', seq: 1, data: 'AA', time: 10 }]);
    far.asm.flushCloseOlderThan(600);
    far.feed([{ from: 'c', seq: 5_000_000, data: 'ZZ', time: 700 }]);
    expect(reasons).toEqual(['idle']);
    expect(far.asm.pool.size).toBe(1); // the new connection
    far.asm.flushCloseOlderThan(701); // the new one is parked in its turn...
    expect(far.asm.pool.parkedCount).toBe(1);
    far.asm.flushCloseOlderThan(700 + 3600 + 1); // ...and its park ends
    expect(reasons).toEqual(['idle', 'idle']);
    expect(far.asm.pool.size).toBe(0);
  });

  it('reassemblyComplete returning false keeps the connection to see its last packets', () => {
    let accepted = 0;
    let completes = 0;
    const factory = {
      new: (): Stream => ({
        accept: () => (accepted++, true),
        reassembledSG() {},
        reassemblyComplete: () => (completes++, false),
      }),
    };
    const asm = drive(factory, [...HS, { from: 'c', seq: 1, data: 'x', flags: 'FA' }, { from: 's', seq: 1, flags: 'FA', ack: 3 }, { from: 'c', seq: 3, flags: 'A', ack: 2 }]);
    expect(completes).toBe(1);
    expect(accepted).toBe(6); // the final ACK still reached the stream
    expect(asm.pool.size).toBe(1);
    expect(asm.stats.tombstoneHits).toBe(0);
    asm.flushCloseOlderThan(1e9);
    expect(asm.pool.size).toBe(0);
    expect(completes).toBe(1); // not called twice
  });
});
