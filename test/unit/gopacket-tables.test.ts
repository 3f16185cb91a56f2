/**
 * gopacket's own reassembly test tables (google/gopacket reassembly/tcpassembly_test.go: the
 * ordering, overlap, overrun, page-cache, flush, keep, FSM and memory tests), replayed through Weft's
 * Assembler the way gopacket's harness drives its own: one packet per step, no ACK flag, ports
 * 1 → 2 (2 → 1 for the other direction), four pages per connection, everything one Assemble call
 * delivers merged into one Reassembly (bytes joined; start and end or-ed; the skip kept).
 *
 * Each case carries gopacket's expectation and its verdict. `same`: Weft's deliveries equal
 * gopacket's at every step. Otherwise Weft's own expectation is written out, with the reason —
 * a choice documented in DESIGN.md or docs/decisions.md, never a bug left standing.
 */
import { describe, expect, it } from 'vitest';
import { TcpHeader } from '../../main/engine/decode';
import { Assembler, StreamPool, tcpassemblyFactory, TCPOptionCheck, TCPSimpleFSM, type AssemblerContext, type CaptureInfo, type ScatterGather, type Stream, type TCPSimpleFSMOptions } from '../../main/engine/reassembly';

interface Step {
  seq: number;
  data: number[];
  syn?: boolean;
  rst?: boolean;
  /** Sender port (1 or 2); default 1. */
  from?: 1 | 2;
  /** keepFrom offset the stream asks for after this step's delivery (keep tables). */
  keep?: number;
}
/** What one step delivered, merged as gopacket's harness merges it; null: nothing delivered. */
interface Got {
  bytes: number[];
  start?: boolean;
  end?: boolean;
  skip?: number;
}
interface Case {
  name: string;
  steps: Step[];
  gopacket: (Got | null)[];
  /** Weft's deliveries when they differ from gopacket's, with `verdict` saying why. */
  weft?: (Got | null)[];
  verdict: 'same' | string;
  /** Flush tables: capture time advances `delay` seconds a step, then connections idle for `older` are closed. */
  flush?: { delay: number; older: number };
  /** Keep tables: gopacket's harness records only the last delivery of a step. */
  keepTable?: boolean;
}

const seqs = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

const CASES: Case[] = [
  {
    name: 'TestReorder',
    steps: [
      { seq: 1001, data: [1, 2, 3] },
      { seq: 1004, data: [4, 5, 6] },
      { seq: 1010, data: [10, 11, 12] },
      { seq: 1007, data: [7, 8, 9] },
      { seq: 1016, data: [2, 2, 3] },
      { seq: 1019, data: [3, 2, 3] },
      { seq: 1013, data: [1, 2, 3] },
    ],
    gopacket: [null, null, null, { bytes: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], skip: -1 }, null, null, { bytes: [1, 2, 3, 2, 2, 3, 3, 2, 3] }],
    weft: [{ bytes: [1, 2, 3], skip: -1, start: true }, { bytes: [4, 5, 6] }, null, { bytes: [7, 8, 9, 10, 11, 12] }, null, null, { bytes: [1, 2, 3, 2, 2, 3, 3, 2, 3] }],
    verdict: 'a direction that starts without a SYN is delivered at once, with skip -1 and start (DESIGN.md: mid-stream starts deliver at once); gopacket waits for the hole before its first packet to fill. The bytes, in the end, are the same',
  },
  {
    name: 'TestMaxPerSkip',
    steps: [
      { seq: 1000, syn: true, data: [1, 2, 3] },
      { seq: 1007, data: [3, 2, 3] },
      { seq: 1010, data: [4, 2, 3] },
      { seq: 1013, data: [5, 2, 3] },
      { seq: 1016, data: [6, 2, 3] },
    ],
    gopacket: [{ bytes: [1, 2, 3], start: true }, null, null, null, { bytes: [3, 2, 3, 4, 2, 3, 5, 2, 3, 6, 2, 3], skip: 3 }],
    verdict: 'same',
  },
  {
    name: 'TestReorderFast',
    steps: [
      { seq: 1000, syn: true, data: [1, 2, 3] },
      { seq: 1007, data: [3, 2, 3] },
      { seq: 1004, data: [2, 2, 3] },
    ],
    gopacket: [{ bytes: [1, 2, 3], start: true }, null, { bytes: [2, 2, 3, 3, 2, 3] }],
    verdict: 'same',
  },
  {
    name: 'TestOverlap',
    steps: [
      { seq: 1000, syn: true, data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0] },
      { seq: 1007, data: [7, 8, 9, 0, 1, 2, 3, 4, 5] },
      { seq: 1010, data: [0, 1, 2, 3, 4, 5, 6, 7] },
    ],
    gopacket: [{ bytes: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0], start: true }, { bytes: [1, 2, 3, 4, 5] }, { bytes: [6, 7] }],
    verdict: 'same',
  },
  {
    name: 'TestBufferedOverlap1',
    steps: [
      { seq: 1007, data: [7, 8, 9, 0, 1, 2, 3, 4, 5] },
      { seq: 1010, data: [0, 1, 2, 3, 4, 5, 6, 7] },
      { seq: 1000, syn: true, data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0] },
    ],
    gopacket: [null, null, { bytes: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7], start: true }],
    weft: [{ bytes: [7, 8, 9, 0, 1, 2, 3, 4, 5], skip: -1, start: true }, { bytes: [6, 7] }, null],
    verdict:
      "the first packet starts the direction mid-stream and is delivered at once (DESIGN.md); the SYN that arrives last carries bytes below that start, which are never delivered: counted 'before-start' with a gap in front of the stream (docs/decisions.md), where gopacket waits and re-orders",
  },
  {
    name: 'TestBufferedOverlapCase6',
    steps: [
      { seq: 1007, data: [7, 8, 9, 0, 1, 2, 3, 4, 5] },
      { seq: 1010, data: [10, 11, 12, 13, 14] },
      { seq: 1000, syn: true, data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0] },
    ],
    gopacket: [null, null, { bytes: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 11, 12, 13, 14, 5], start: true }],
    weft: [{ bytes: [7, 8, 9, 0, 1, 2, 3, 4, 5], skip: -1, start: true }, null, null],
    verdict:
      "mid-stream start delivered at once (DESIGN.md), so the second packet only retransmits delivered bytes (its differing ones are a conflict only with the opt-in delivered window); the late SYN's bytes lie below the start ('before-start'). gopacket buffers all three and lets the later copy win inside the overlap",
  },
  {
    name: 'TestBufferedOverlapExisting',
    steps: [
      { seq: 1000, syn: true, data: [1, 2, 3, 4, 5, 6, 7] },
      { seq: 1005, data: [5, 6, 7, 8, 9, 10] },
    ],
    gopacket: [{ bytes: [1, 2, 3, 4, 5, 6, 7], start: true }, { bytes: [8, 9, 10] }],
    verdict: 'same',
  },
  {
    name: 'TestBufferedOverlapReemit',
    steps: [
      { seq: 1000, syn: true, data: [1, 2, 3, 4, 5, 6, 7] },
      { seq: 1003, data: [3, 4, 5] },
    ],
    gopacket: [{ bytes: [1, 2, 3, 4, 5, 6, 7], start: true }, null],
    verdict: 'same',
  },
  {
    name: 'TestReorderRetransmission2',
    steps: [
      { seq: 1001, data: [1, 2, 3] },
      { seq: 1007, data: [2, 2, 3] },
      { seq: 1007, data: [2, 2, 3] },
      { seq: 1010, data: [10, 11] },
      { seq: 1004, data: [6, 6, 6, 2, 2] },
    ],
    gopacket: [null, null, null, null, { bytes: [1, 2, 3, 6, 6, 6, 2, 2, 3, 10, 11], skip: -1 }],
    weft: [{ bytes: [1, 2, 3], skip: -1, start: true }, null, null, null, { bytes: [6, 6, 6, 2, 2, 3, 10, 11] }],
    verdict:
      "mid-stream start delivered at once (DESIGN.md). The last packet overlaps the buffered [2, 2, 3] with [2, 2]: in order, the packet's bytes are delivered and the page's covered bytes give way (tshark's Follow and Linux do the same), equal here, so the bytes match gopacket's",
  },
  {
    name: 'TestOverrun1',
    steps: [
      { seq: 0xffffffff, syn: true, data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0] },
      { seq: 10, data: [1, 2, 3, 4] },
    ],
    gopacket: [{ bytes: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0], start: true }, { bytes: [1, 2, 3, 4] }],
    verdict: 'same',
  },
  {
    name: 'TestOverrun2',
    steps: [
      { seq: 10, data: [1, 2, 3, 4] },
      { seq: 0xffffffff, syn: true, data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0] },
    ],
    gopacket: [null, { bytes: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4], start: true }],
    weft: [{ bytes: [1, 2, 3, 4], skip: -1, start: true }, null],
    verdict: "mid-stream start delivered at once (DESIGN.md); the SYN's ten bytes lie below it and are counted 'before-start' with a gap record (docs/decisions.md), where they used to vanish as 'retransmission'",
  },
  {
    name: 'TestCacheLargePacket',
    steps: [
      { seq: 1001, data: new Array(1900 * 3).fill(0).map((_, i) => i & 0xff) },
      { seq: 1000, syn: true, data: [] },
    ],
    gopacket: [null, { bytes: new Array(1900 * 3).fill(0).map((_, i) => i & 0xff), start: true }],
    weft: [{ bytes: new Array(1900 * 3).fill(0).map((_, i) => i & 0xff), skip: -1, start: true }, null],
    verdict: 'mid-stream start delivered at once (DESIGN.md); the empty SYN after it changes nothing',
  },
  {
    name: 'TestFlush (one way)',
    flush: { delay: 0.05, older: 0.04 },
    steps: [
      { seq: 1001, data: [1, 2, 3] },
      { seq: 1010, data: [4, 5, 6, 7] },
    ],
    gopacket: [{ bytes: [1, 2, 3], skip: -1 }, { bytes: [4, 5, 6, 7], skip: -1 }],
    weft: [
      { bytes: [1, 2, 3], skip: -1, start: true, end: true },
      { bytes: [4, 5, 6, 7], skip: -1, start: true, end: true },
    ],
    verdict:
      "the flush after each step closes the connection, so each packet is a new mid-stream connection: the same bytes and skips. Weft delivers at once and marks each first delivery `start` (DESIGN.md: mid-stream starts deliver at once) and the close `end`; gopacket's harness sees the bytes only on the flush, without those marks",
  },
  {
    name: 'TestFlush (two way)',
    flush: { delay: 0.05, older: 0.099 },
    steps: [
      { seq: 1001, data: [1, 2, 3] },
      { seq: 890, data: [11, 22, 33], from: 2 },
      { seq: 893, data: [44, 55, 66, 77], from: 2 },
      { seq: 1004, data: [8, 9] },
    ],
    gopacket: [null, { bytes: [1, 2, 3], skip: -1 }, { bytes: [11, 22, 33, 44, 55, 66, 77], skip: -1 }, { bytes: [8, 9] }],
    weft: [{ bytes: [1, 2, 3], skip: -1, start: true }, { bytes: [11, 22, 33], skip: -1, start: true }, { bytes: [44, 55, 66, 77] }, { bytes: [8, 9] }],
    verdict: 'each direction starts mid-stream and is delivered at once (DESIGN.md), where gopacket waits for the flush; the same bytes in the same order per direction',
  },
  {
    name: 'TestFlush (a late RST)',
    flush: { delay: 0.04, older: 0.05 },
    steps: [
      { seq: 1005, data: [5, 6, 7] },
      { seq: 1001, data: [1, 2, 3], rst: true },
      { seq: 1010, data: [10, 11, 12] },
    ],
    gopacket: [null, null, { bytes: [1, 2, 3], skip: -1, end: true }],
    weft: [{ bytes: [5, 6, 7], skip: -1, start: true }, { bytes: [], end: true }, null],
    verdict:
      "mid-stream start delivered at once (DESIGN.md); the RST is honoured at once and ends the direction (its payload below the start is 'before-start', docs/decisions.md), and the connection's tombstone absorbs the packet after it (DESIGN.md). gopacket queues the RST, delivers its payload and closes at the next flush",
  },
  {
    name: 'TestKeepSimpleOnBoundary',
    keepTable: true,
    steps: [
      { seq: 1000, syn: true, data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0], keep: 0 },
      { seq: 1007, data: [7, 8, 9, 0, 1, 2, 3, 4, 5] },
    ],
    gopacket: [{ bytes: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0] }, { bytes: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5] }],
    verdict: 'same',
  },
  {
    name: 'TestKeepSimpleNotBoundaryLive',
    keepTable: true,
    steps: [
      { seq: 1000, syn: true, data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0], keep: 1 },
      { seq: 1007, data: [7, 8, 9, 0, 1, 2, 3, 4, 5] },
    ],
    gopacket: [{ bytes: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0] }, { bytes: [2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5] }],
    verdict: 'same',
  },
  {
    name: 'TestKeepSimpleNotBoundaryAlreadyKept',
    keepTable: true,
    steps: [
      { seq: 1000, syn: true, data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0x10], keep: 0 },
      { seq: 1007, data: [7, 8, 9, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15], keep: 11 },
      { seq: 1016, data: [0x16, 0x17, 0x18] },
    ],
    gopacket: [{ bytes: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0x10] }, { bytes: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15] }, { bytes: [0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18] }],
    verdict: 'same',
  },
  {
    name: 'TestKeepLonger',
    keepTable: true,
    steps: [
      { seq: 1000, syn: true, data: seqs(1, 10), keep: 0 },
      { seq: 1007, data: seqs(7, 9), keep: 0 },
      { seq: 1010, data: seqs(10, 8) },
    ],
    gopacket: [{ bytes: seqs(1, 10) }, { bytes: seqs(1, 15) }, { bytes: seqs(1, 17) }],
    verdict: 'same',
  },
  {
    name: 'TestKeepWithFlush',
    keepTable: true,
    steps: [
      { seq: 1000, syn: true, data: [1], keep: 1 },
      { seq: 1003, data: [3], keep: 0 },
      { seq: 1004, data: [4], keep: 0 },
      { seq: 1006, data: [6], keep: 0 },
      { seq: 1008, data: [8], keep: 0 },
      { seq: 1010, data: [10], keep: 0 },
      { seq: 1012, data: [12], keep: 0 },
    ],
    gopacket: [{ bytes: [1] }, null, null, null, { bytes: [3, 4], skip: 1 }, { bytes: [6], skip: 1 }, { bytes: [8], skip: 1 }],
    weft: [{ bytes: [1] }, null, null, null, { bytes: [3, 4], skip: 1 }, null, { bytes: [6], skip: 1 }],
    verdict:
      "the point of gopacket's table holds: the kept [3, 4] are not glued across the gap before [6] (docs/decisions.md, kept bytes across a gap). gopacket keeps kept bytes in pages, so at the page limit they push out the next hole at every packet; Weft keeps them outside the page budget, so the next hole goes when four pages are held again",
  },
];

/** Runs a case through Weft's Assembler; per step, the deliveries merged as gopacket's harness merges them. */
function replay(c: Case): (Got | null)[] {
  const steps: Got[][] = [];
  let keep = -1;
  class Recorder implements Stream {
    accept() {
      return true;
    }
    reassembledSG(sg: ScatterGather) {
      const [n] = sg.lengths();
      const i = sg.info();
      const got: Got = { bytes: [...sg.fetch(n)] };
      if (i.start) got.start = true;
      if (i.end) got.end = true;
      if (i.skip !== 0) got.skip = i.skip;
      steps[steps.length - 1].push(got);
      if (keep >= 0) sg.keepFrom(keep);
    }
    reassemblyComplete() {
      return true;
    }
  }
  const asm = new Assembler(new StreamPool({ new: () => new Recorder() }), { maxBufferedPagesPerConnection: c.keepTable ? 4 : c.flush ? 10 : 4 });
  const ci: CaptureInfo = { tsSec: 0, tsNsec: 0, frame: 0, capLen: 0, origLen: 0 };
  const ctx: AssemblerContext = { captureInfo: () => ci };
  const tcp = new TcpHeader();
  const A = Uint8Array.of(1, 2, 3, 4);
  const B = Uint8Array.of(5, 6, 7, 8);
  let t = 0;
  for (const s of c.steps) {
    steps.push([]);
    keep = c.keepTable ? (s.keep ?? -1) : -1;
    const data = Uint8Array.from(s.data);
    const from = s.from ?? 1;
    tcp.srcPort = from;
    tcp.dstPort = from === 1 ? 2 : 1;
    tcp.seq = s.seq >>> 0;
    tcp.ack = 0;
    tcp.flags = (s.syn ? 0x02 : 0) | (s.rst ? 0x04 : 0);
    tcp.setOptions(data, 0, 0);
    ci.frame++;
    ci.tsSec = Math.floor(t);
    ci.tsNsec = Math.round((t - Math.floor(t)) * 1e9);
    asm.assemble({ ipVersion: 4, src: from === 1 ? A : B, dst: from === 1 ? B : A, vlan: -1 }, { tcp, buf: data, payloadOffset: 0, payloadLength: data.length, payloadCaptured: data.length }, ctx);
    if (c.flush) {
      t += c.flush.delay;
      asm.flushCloseOlderThan(t - c.flush.older);
    }
  }
  return steps.map((got) => {
    if (got.length === 0) return null;
    // the keep tables look at the last delivery of a step; the others at all of them, merged
    if (c.keepTable) return { bytes: got[got.length - 1].bytes, ...(got[got.length - 1].skip ? { skip: got[got.length - 1].skip } : {}) };
    const m: Got = { bytes: got.flatMap((g) => g.bytes) };
    if (got.some((g) => g.start)) m.start = true;
    if (got.some((g) => g.end)) m.end = true;
    const skip = got.map((g) => g.skip ?? 0).filter((k) => k !== 0);
    if (skip.length) m.skip = skip[skip.length - 1];
    return m;
  });
}

describe("gopacket's reassembly tables, replayed through Weft", () => {
  for (const c of CASES) {
    it(`${c.name}: ${c.verdict === 'same' ? "as gopacket's" : 'differs by choice'}`, () => {
      const got = replay(c);
      if (c.verdict === 'same') {
        expect(c.weft).toBeUndefined();
        expect(got).toEqual(c.gopacket);
      } else {
        expect(c.weft, 'a differing case writes out what Weft does').toBeDefined();
        expect(got).toEqual(c.weft);
        expect(c.weft).not.toEqual(c.gopacket);
        expect(c.verdict.length).toBeGreaterThan(40);
      }
    });
  }

  it('the verdicts: how many cases agree, and every difference names its reason', () => {
    const same = CASES.filter((c) => c.verdict === 'same').length;
    expect(CASES.length).toBe(20);
    expect(same).toBe(10);
    for (const c of CASES.filter((c) => c.verdict !== 'same')) expect(c.verdict).toMatch(/DESIGN\.md|decisions\.md|gopacket|tshark/);
  });
});

/**
 * gopacket reassembly/tcpcheck_test.go: the simple state machine and the option check, packet by
 * packet (accepted or not), with their verdicts.
 */
describe("gopacket's tcpcheck tables, replayed through Weft's checks", () => {
  interface P {
    flags: string;
    sport: number;
    dport: number;
    seq: number;
    ack: number;
    len?: number;
  }
  const header = (p: P) => {
    const t = new TcpHeader();
    t.srcPort = p.sport;
    t.dstPort = p.dport;
    t.seq = p.seq;
    t.ack = p.ack;
    t.flags = p.flags.split('').reduce((f, c) => f | ({ S: 2, A: 16, F: 1, R: 4 } as Record<string, number>)[c], 0);
    t.setOptions(new Uint8Array(0), 0, 0);
    return t;
  };
  /** gopacket's harness: the first packet's source port is the client's. */
  const fsm = (packets: P[], opts: TCPSimpleFSMOptions = {}) => {
    const m = new TCPSimpleFSM(opts);
    return packets.map((p) => m.checkState(header(p), p.sport === packets[0].sport ? 0 : 1));
  };
  const C = { sport: 54842, dport: 53 };
  const S = { sport: 53, dport: 54842 };
  const DNS: P[] = [
    { ...C, flags: 'S', seq: 374511116, ack: 0 },
    { ...S, flags: 'SA', seq: 3465787765, ack: 374511117 },
    { ...C, flags: 'A', seq: 374511117, ack: 3465787766 },
    { ...C, flags: 'A', seq: 374511117, ack: 3465787766, len: 33 },
    { ...S, flags: 'A', seq: 3465787766, ack: 374511150 },
    { ...S, flags: 'A', seq: 3465787766, ack: 374511150, len: 1460 },
    { ...C, flags: 'A', seq: 374511150, ack: 3465789226 },
  ];

  it('TestCheckFSM: a whole DNS-over-TCP exchange is accepted, packet by packet (as gopacket)', () => {
    expect(fsm(DNS)).toEqual([true, true, true, true, true, true, true]);
  });

  it('TestCheckFSMmissingSYNACK: after a SYN, the client ACK without a SYN-ACK is refused (as gopacket)', () => {
    expect(fsm([DNS[0], DNS[2], DNS[3]])).toEqual([true, false, false]);
  });

  it('TestCheckFSMmissingSYN: a connection picked up mid-stream is refused, or accepted with supportMissingEstablishment (as gopacket)', () => {
    const mid: P[] = [
      { ...C, flags: 'A', seq: 12, ack: 1012, len: 1 },
      { ...S, flags: 'A', seq: 1012, ack: 13, len: 1 },
      { ...S, flags: 'A', seq: 1013, ack: 13, len: 1 },
    ];
    for (const val of [false, true]) expect(fsm(mid, { supportMissingEstablishment: val })).toEqual([val, val, val]);
  });

  it('TestCheckOptions: packets without options all pass; the retransmission gopacket refuses passes (differs by choice)', () => {
    // gopacket's TCPOptionCheck also judges the sequence number against nextSeq and refuses a
    // retransmission of reassembled data; Weft's checks the options only (MSS, window scale,
    // PAWS) — retransmissions are the assembler's to count, never a reason to refuse a packet.
    const check = new TCPOptionCheck();
    const seqs: [P, number, 0 | 1, boolean][] = [
      [{ sport: 53, dport: 54842, flags: '', seq: 3465787765, ack: 374511119 }, 0, 1, true],
      [{ sport: 35721, dport: 80, flags: '', seq: 374511116, ack: 0 }, 3, 0, true],
      [{ sport: 54842, dport: 53, flags: 'A', seq: 374511119, ack: 3465787766 }, 3, 0, true],
      [{ sport: 54842, dport: 53, flags: 'A', seq: 374511132, ack: 3465787766 }, 3, 0, true],
      [{ sport: 54842, dport: 53, flags: 'A', seq: 374511119, ack: 3465787766 }, 3, 0, false], // gopacket: refused
    ];
    const gopacket = seqs.map(([, , , g]) => g);
    const weft = seqs.map(([p, len, dir]) => check.accept(header(p), len, dir) === null);
    expect(weft).toEqual([true, true, true, true, true]);
    expect(weft).not.toEqual(gopacket);
  });
});

/**
 * gopacket tcpassembly/assembly_test.go: the older chunk contract (tcpassemblyFactory here),
 * where each Assemble call hands the stream a list of pieces — the packet's and each page's —
 * compared piece by piece.
 */
describe("gopacket's tcpassembly tables, replayed through tcpassemblyFactory", () => {
  interface Piece {
    bytes: number[];
    skip?: number;
    start?: boolean;
  }
  const big = new Array(1900 * 3).fill(0).map((_, i) => i & 0xff);
  const pages = [big.slice(0, 1900), big.slice(1900, 3800), big.slice(3800)];
  const TABLES: { name: string; steps: Step[]; gopacket: Piece[][]; weft?: Piece[][]; verdict: string }[] = [
    {
      name: 'TestReorder',
      steps: [{ seq: 1001, data: [1, 2, 3] }, { seq: 1004, data: [2, 2, 3] }, { seq: 1010, data: [4, 2, 3] }, { seq: 1007, data: [3, 2, 3] }, { seq: 1016, data: [2, 2, 3] }, { seq: 1019, data: [3, 2, 3] }, { seq: 1013, data: [1, 2, 3] }],
      gopacket: [[], [], [], [{ bytes: [1, 2, 3], skip: -1 }, { bytes: [2, 2, 3] }, { bytes: [3, 2, 3] }, { bytes: [4, 2, 3] }], [], [], [{ bytes: [1, 2, 3] }, { bytes: [2, 2, 3] }, { bytes: [3, 2, 3] }]],
      weft: [[{ bytes: [1, 2, 3], skip: -1, start: true }], [{ bytes: [2, 2, 3] }], [], [{ bytes: [3, 2, 3] }, { bytes: [4, 2, 3] }], [], [], [{ bytes: [1, 2, 3] }, { bytes: [2, 2, 3] }, { bytes: [3, 2, 3] }]],
      verdict: 'a mid-stream start is delivered at once (DESIGN.md); gopacket waits for the hole before it',
    },
    {
      name: 'TestMaxPerSkip',
      steps: [{ seq: 1000, syn: true, data: [1, 2, 3] }, { seq: 1007, data: [3, 2, 3] }, { seq: 1010, data: [4, 2, 3] }, { seq: 1013, data: [5, 2, 3] }, { seq: 1016, data: [6, 2, 3] }],
      gopacket: [[{ bytes: [1, 2, 3], start: true }], [], [], [], [{ bytes: [3, 2, 3], skip: 3 }, { bytes: [4, 2, 3] }, { bytes: [5, 2, 3] }, { bytes: [6, 2, 3] }]],
      verdict: 'same',
    },
    {
      name: 'TestReorderFast',
      steps: [{ seq: 1000, syn: true, data: [1, 2, 3] }, { seq: 1007, data: [3, 2, 3] }, { seq: 1004, data: [2, 2, 3] }],
      gopacket: [[{ bytes: [1, 2, 3], start: true }], [], [{ bytes: [2, 2, 3] }, { bytes: [3, 2, 3] }]],
      verdict: 'same',
    },
    {
      name: 'TestOverlap',
      steps: [{ seq: 1000, syn: true, data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0] }, { seq: 1007, data: [7, 8, 9, 0, 1, 2, 3, 4, 5] }, { seq: 1010, data: [0, 1, 2, 3, 4, 5, 6, 7] }],
      gopacket: [[{ bytes: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0], start: true }], [{ bytes: [1, 2, 3, 4, 5] }], [{ bytes: [6, 7] }]],
      verdict: 'same',
    },
    {
      name: 'TestBufferedOverlap',
      steps: [{ seq: 1007, data: [7, 8, 9, 0, 1, 2, 3, 4, 5] }, { seq: 1010, data: [0, 1, 2, 3, 4, 5, 6, 7] }, { seq: 1000, syn: true, data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0] }],
      gopacket: [[], [], [{ bytes: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0], start: true }, { bytes: [1, 2, 3, 4, 5] }, { bytes: [6, 7] }]],
      weft: [[{ bytes: [7, 8, 9, 0, 1, 2, 3, 4, 5], skip: -1, start: true }], [{ bytes: [6, 7] }], []],
      verdict: "mid-stream start delivered at once (DESIGN.md); the late SYN's bytes lie below it ('before-start', docs/decisions.md)",
    },
    {
      name: 'TestOverrun1',
      steps: [{ seq: 0xffffffff, syn: true, data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0] }, { seq: 10, data: [1, 2, 3, 4] }],
      gopacket: [[{ bytes: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0], start: true }], [{ bytes: [1, 2, 3, 4] }]],
      verdict: 'same',
    },
    {
      name: 'TestOverrun2',
      steps: [{ seq: 10, data: [1, 2, 3, 4] }, { seq: 0xffffffff, syn: true, data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0] }],
      gopacket: [[], [{ bytes: [1, 2, 3, 4, 5, 6, 7, 8, 9, 0], start: true }, { bytes: [1, 2, 3, 4] }]],
      weft: [[{ bytes: [1, 2, 3, 4], skip: -1, start: true }], []],
      verdict: "mid-stream start delivered at once (DESIGN.md); the SYN's bytes below it are 'before-start' (docs/decisions.md)",
    },
    {
      name: 'TestCacheLargePacket',
      steps: [{ seq: 1001, data: big }, { seq: 1000, syn: true, data: [] }],
      gopacket: [[], [{ bytes: [], start: true }, { bytes: pages[0] }, { bytes: pages[1] }, { bytes: pages[2] }]],
      weft: [[{ bytes: big, skip: -1, start: true }], []],
      verdict: 'mid-stream start delivered at once, from the packet, in one piece (DESIGN.md)',
    },
  ];

  for (const t of TABLES)
    it(`${t.name}: ${t.verdict === 'same' ? "as gopacket's" : 'differs by choice'}`, () => {
      const got: Piece[][] = [];
      const f = tcpassemblyFactory({
        new: () => ({
          reassembled(rs) {
            for (const r of rs) got[got.length - 1].push({ bytes: [...r.bytes], ...(r.skip !== 0 ? { skip: r.skip } : {}), ...(r.start ? { start: true } : {}) });
          },
          reassemblyComplete() {},
        }),
      });
      const asm = new Assembler(new StreamPool(f), { maxBufferedPagesPerConnection: 4 });
      const tcp = new TcpHeader();
      const ci: CaptureInfo = { tsSec: 0, tsNsec: 0, frame: 0, capLen: 0, origLen: 0 };
      for (const s of t.steps) {
        got.push([]);
        const data = Uint8Array.from(s.data);
        Object.assign(tcp, { srcPort: 1, dstPort: 2, seq: s.seq >>> 0, ack: 0, flags: s.syn ? 0x02 : 0 });
        tcp.setOptions(data, 0, 0);
        ci.frame++;
        asm.assemble({ ipVersion: 4, src: Uint8Array.of(1, 2, 3, 4), dst: Uint8Array.of(5, 6, 7, 8), vlan: -1 }, { tcp, buf: data, payloadOffset: 0, payloadLength: data.length, payloadCaptured: data.length }, { captureInfo: () => ci });
      }
      if (t.verdict === 'same') {
        expect(t.weft).toBeUndefined();
        expect(got).toEqual(t.gopacket);
      } else {
        expect(got).toEqual(t.weft);
        expect(t.weft).not.toEqual(t.gopacket);
      }
    });
});

/**
 * The rest of gopacket reassembly/tcpassembly_test.go: the FSM tables, where a stream's accept()
 * runs the simple state machine and counts the packets it let through (its reassemblyComplete
 * keeps the connection), and the two memory tests, stated as what Weft's page cache holds.
 */
describe("gopacket's FSM and memory tests, through the Assembler", () => {
  const C = { sport: 54842, dport: 53 };
  const S = { sport: 53, dport: 54842 };
  interface P {
    from: typeof C;
    flags: string;
    seq: number;
    ack: number;
    len?: number;
  }
  const FLAG: Record<string, number> = { S: 0x02, A: 0x10, F: 0x01, R: 0x04 };
  const CLIENT = Uint8Array.of(1, 2, 3, 4);
  const SERVER = Uint8Array.of(5, 6, 7, 8);

  /** gopacket's testFSM: the number of packets accepted after each step. */
  function accepted(packets: P[]): number[] {
    let nb = 0;
    class Checked implements Stream {
      private readonly fsm = new TCPSimpleFSM();
      accept(tcp: TcpHeader, _ci: CaptureInfo, dir: 0 | 1) {
        const ok = this.fsm.checkState(tcp, dir);
        if (ok) nb++;
        return ok;
      }
      reassembledSG() {}
      reassemblyComplete() {
        return false;
      }
    }
    const asm = new Assembler(new StreamPool({ new: () => new Checked() }));
    const ci: CaptureInfo = { tsSec: 1432538521, tsNsec: 0, frame: 0, capLen: 0, origLen: 0 };
    const tcp = new TcpHeader();
    return packets.map((p) => {
      const data = new Uint8Array(p.len ?? 0);
      tcp.srcPort = p.from.sport;
      tcp.dstPort = p.from.dport;
      tcp.seq = p.seq;
      tcp.ack = p.ack;
      tcp.flags = p.flags.split('').reduce((f, c) => f | FLAG[c], 0);
      tcp.setOptions(data, 0, 0);
      ci.frame++;
      const fromClient = p.from === C;
      asm.assemble({ ipVersion: 4, src: fromClient ? CLIENT : SERVER, dst: fromClient ? SERVER : CLIENT, vlan: -1 }, { tcp, buf: data, payloadOffset: 0, payloadLength: data.length, payloadCaptured: data.length }, { captureInfo: () => ci });
      return nb;
    });
  }
  const SYN: P = { from: C, flags: 'S', seq: 374511116, ack: 0 };
  const SYNACK: P = { from: S, flags: 'SA', seq: 3465787765, ack: 374511117 };
  const ACK: P = { from: C, flags: 'A', seq: 374511117, ack: 3465787766 };
  const QUERY: P = { ...ACK, len: 33 };
  const SACK: P = { from: S, flags: 'A', seq: 3465787766, ack: 374511150 };
  const ANSWER: P = { ...SACK, len: 1460 };
  const LAST: P = { from: C, flags: 'A', seq: 374511150, ack: 3465789226 };

  it('TestFSMnormalFlow: every packet of a DNS-over-TCP exchange is accepted (as gopacket)', () => {
    expect(accepted([SYN, SYNACK, ACK, QUERY, SACK, ANSWER, LAST])).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('TestFSMearlyRST: after the client resets the handshake, nothing more is accepted (as gopacket)', () => {
    expect(accepted([SYN, SYNACK, { from: C, flags: 'R', seq: 374511117, ack: 3465787766 }, QUERY, SACK])).toEqual([1, 2, 3, 3, 3]);
  });

  it('TestFSMestablishedThenRST: after the server resets an established connection, nothing more is accepted (as gopacket)', () => {
    expect(accepted([SYN, SYNACK, ACK, QUERY, { from: S, flags: 'R', seq: 3465787766, ack: 374511150 }, ANSWER, LAST])).toEqual([1, 2, 3, 4, 5, 5, 5]);
  });

  it('TestFSMmissingSYNACK: the client ACK and data without a SYN-ACK are refused (as gopacket)', () => {
    expect(accepted([SYN, ACK, QUERY])).toEqual([1, 1, 1]);
  });

  /** A stream of 10-byte segments from 1 to 2 (gopacket's harness ports), every one delivered and counted. */
  function counting() {
    const seen = { bytes: 0 };
    const asm = new Assembler(
      new StreamPool({
        new: () => ({
          accept: () => true,
          reassembledSG: (sg: ScatterGather) => void (seen.bytes += sg.lengths()[0]),
          reassemblyComplete: () => true,
        }),
      }),
    );
    const ci: CaptureInfo = { tsSec: 1432538521, tsNsec: 590387000, frame: 0, capLen: 0, origLen: 0 };
    const tcp = new TcpHeader();
    const data = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 0);
    const send = (from: 1 | 2, seq: number, ack: number, flags: number) => {
      tcp.srcPort = from;
      tcp.dstPort = from === 1 ? 2 : 1;
      tcp.seq = seq >>> 0;
      tcp.ack = ack >>> 0;
      tcp.flags = flags;
      tcp.setOptions(data, 0, 0);
      ci.frame++;
      asm.assemble({ ipVersion: 4, src: from === 1 ? CLIENT : SERVER, dst: from === 1 ? SERVER : CLIENT, vlan: -1 }, { tcp, buf: data, payloadOffset: 0, payloadLength: data.length, payloadCaptured: data.length }, { captureInfo: () => ci });
    };
    return { asm, seen, send, cache: asm.pool.pageCache };
  }

  it('TestMemoryShrink: pages held for 1,049 out-of-order segments go back after flushAll, and stay back when flushed every 50 (as gopacket, in pages)', () => {
    const { asm, send, cache } = counting();
    // a SYN at 999 with 10 bytes, then every segment one byte past where the last ended: always out of order
    let seq = 999;
    send(1, seq, 0, 0x02);
    seq += 2 + 10;
    for (let i = 1; i < 1050; i++, seq += 10) send(1, seq, 0, 0);
    expect(cache.used).toBeGreaterThanOrEqual(1049);
    const grown = cache.allocated;
    asm.flushAll();
    expect(cache.used).toBe(0);
    cache.trim();
    expect(cache.allocated).toBeLessThan(grown);
    for (let i = 0; i < 2100; i++, seq += 10) {
      send(1, seq, 0, 0);
      if (i % 50 === 0) asm.flushAll();
    }
    asm.flushAll();
    cache.trim();
    expect(cache.used).toBe(0);
    expect(cache.allocated).toBeLessThanOrEqual(256);
    expect(cache.highWater).toBeLessThan(grown + 1);
  });

  it('TestFullyOrderedAndCompleteStreamDoesNotAlloc: 1,000 in-order segments each way take no page and deliver every byte (as gopacket)', () => {
    const { asm, seen, send, cache } = counting();
    send(1, 0, 0, 0x02);
    send(2, 0, 0, 0x12);
    let c2s = 1;
    let s2c = 1;
    let ack = 0;
    const N = 1000;
    for (let i = 0; i <= N; i++) {
      c2s += 10;
      s2c += 10;
      ack += 10;
      send(1, c2s, ack, 0x10);
      send(2, s2c, ack, 0x10);
    }
    expect(cache.highWater).toBe(0);
    expect(seen.bytes).toBe(10 * 2 * (N + 2));
    asm.flushAll();
  });
});
