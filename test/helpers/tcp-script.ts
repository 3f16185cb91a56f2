/**
 * Reassembly scripts: a connection written as a list of segments with letter payloads, fed to a
 * real Assembler without any capture file, and what each direction received.
 *
 *   run(isn, [
 *     { from: 'c', flags: 'S' },
 *     { from: 's', flags: 'SA' },
 *     { from: 'c', seq: 1, data: 'AAA' },        // seq relative to the sender's ISN
 *   ])
 */
import { TcpHeader } from '../../main/engine/decode/layers';
import {
  Assembler,
  StreamPool,
  type AssemblerContext,
  type AssemblerOptions,
  type CaptureInfo,
  type CloseReason,
  type ConnectionState,
  type ScatterGather,
  type Stream,
  type TCPFlowDirection,
} from '../../main/engine/reassembly';

export interface Step {
  from: 'c' | 's';
  /** Relative to the sender's ISN (default: right after the sender's last byte). */
  seq?: number;
  /** Flags as letters: S A F R P (default 'A' once the handshake is past). */
  flags?: string;
  data?: string;
  /** Relative to the receiver's ISN (default 1: only the SYN, so no hole counts as acknowledged). */
  ack?: number;
  /** Captured bytes when less than data.length (snaplen truncation). */
  captured?: number;
  /** Capture time in seconds (default: step index). */
  time?: number;
}

export interface Delivery {
  dir: TCPFlowDirection;
  text: string;
  start: boolean;
  end: boolean;
  skip: number;
  frames: number[];
}

export interface RunResult {
  c2s: string;
  s2c: string;
  deliveries: Delivery[];
  complete: CloseReason[];
  conns: ConnectionState[];
  asm: Assembler;
}

const FLAG_BITS: Record<string, number> = { F: 1, S: 2, R: 4, P: 8, A: 16, U: 32 };

class Recorder implements Stream {
  conn!: ConnectionState;
  constructor(private readonly out: RunResult) {}
  attach(c: ConnectionState): void {
    this.conn = c;
    this.out.conns.push(c);
  }
  accept(): boolean {
    return true;
  }
  reassembledSG(sg: ScatterGather): void {
    const [n] = sg.lengths();
    const text = Buffer.from(sg.fetch(n)).toString('latin1');
    const frames: number[] = [];
    sg.pieces((_b, _o, _l, ci) => frames.push(ci.frame));
    const i = sg.info();
    this.out.deliveries.push({ dir: i.dir, text, start: i.start, end: i.end, skip: i.skip, frames });
    if (i.dir === 0) this.out.c2s += text;
    else this.out.s2c += text;
  }
  reassemblyComplete(_ctx: AssemblerContext, reason: CloseReason): boolean {
    this.out.complete.push(reason);
    return true;
  }
}

export const CLIENT = Uint8Array.from([10, 0, 0, 1]);
export const SERVER = Uint8Array.from([10, 0, 0, 2]);

/** Runs a script with client ISN `isn` and server ISN `isn + 0x10000000`. */
export function run(isn: number, steps: Step[], opts: Partial<AssemblerOptions> = {}, end = true): RunResult {
  const out: RunResult = { c2s: '', s2c: '', deliveries: [], complete: [], conns: [], asm: null as unknown as Assembler };
  const pool = new StreamPool({ new: () => new Recorder(out) });
  const asm = new Assembler(pool, opts);
  out.asm = asm;
  const isns = { c: isn >>> 0, s: (isn + 0x10000000) >>> 0 };
  const next = { c: 0, s: 0 }; // relative next seq per sender (0 = SYN)
  const ci: CaptureInfo = { tsSec: 0, tsNsec: 0, frame: 0, capLen: 0, origLen: 0 };
  const ctx: AssemblerContext = { captureInfo: () => ci };
  const tcp = new TcpHeader();
  steps.forEach((st, i) => {
    const from = st.from;
    const to = from === 'c' ? 's' : 'c';
    const flags = (st.flags ?? 'A').split('').reduce((f, ch) => f | FLAG_BITS[ch], 0);
    const data = new TextEncoder().encode(st.data ?? '');
    const rel = st.seq ?? next[from];
    tcp.srcPort = from === 'c' ? 40000 : 80;
    tcp.dstPort = from === 'c' ? 80 : 40000;
    tcp.seq = (isns[from] + rel) >>> 0;
    tcp.ack = (isns[to] + (st.ack ?? (next[to] > 0 ? 1 : 0))) >>> 0;
    tcp.flags = flags;
    tcp.setOptions(data, 0, 0);
    const end = rel + (flags & 2 ? 1 : 0) + data.length + (flags & 1 ? 1 : 0);
    if (end > next[from]) next[from] = end;
    ci.frame = i + 1;
    ci.tsSec = st.time ?? i;
    ci.capLen = ci.origLen = 54 + data.length;
    const net = { ipVersion: 4, src: from === 'c' ? CLIENT : SERVER, dst: from === 'c' ? SERVER : CLIENT, vlan: -1 };
    const seg = { tcp, buf: data, payloadOffset: 0, payloadLength: data.length, payloadCaptured: st.captured ?? data.length };
    asm.assemble(net, seg, ctx);
  });
  if (end) asm.flushAll();
  return out;
}

/** The handshake every script starts with. */
export const HANDSHAKE: Step[] = [
  { from: 'c', flags: 'S', ack: 0 },
  { from: 's', flags: 'SA' },
  { from: 'c', flags: 'A' },
];

/** The initial sequence numbers every script runs at (STYLE.md §6): 0, 1 and across the wrap. */
export const ISNS = [0, 1, 2 ** 32 - 1, 2 ** 32 - 11];
