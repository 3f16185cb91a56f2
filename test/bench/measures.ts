/**
 * One measurement per process (so each gets its own peak RSS): `bench.cjs --measure NAME --file F`
 * prints {ms, bytes, packets, maxRssMB} as JSON (and `messages` for http). Used by bench.ts.
 */
import { PacketDecoder, Transport } from '../../main/engine/decode';
import { httpPlugin, redisPlugin, type DirectionParser } from '../../main/engine/protocols';
import { TcpHeader } from '../../main/engine/decode/layers';
import { Assembler, StreamPool, type ScatterGather, type Stream } from '../../main/engine/reassembly';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportFlows } from '../../main/service/export/export';
import { ChildProcessHost } from '../../main/service/hosts/child-host';
import { PacketPipeline } from '../../main/service/pipeline/packet-pipeline';
import { Session } from '../../main/service/session/session';
import { readCaptureFile } from '../../main/sources/capture-source';
import { heapGrowth } from '../helpers/heap';
import { BaselineReassembler } from './baseline';
import { walkRecordHeaders } from './floor';

export type MeasureName = 'floor' | 'decode' | 'engine' | 'http' | 'baseline' | 'alloc' | 'resp' | 'resp-scan' | 'export' | 'app';

export interface AppLoad {
  /** Loading the file, from openCapture to the session being idle. */
  ms: number;
  flows: number;
  /** From openCapture to the first delta that has rows. */
  firstFlowsMs: number;
  /** A query sorted by server→client bytes over every row (the order computed afresh), and a page of it. */
  sortedQueryMs: number;
  /** The engine process's peak resident memory. */
  engineRssMB: number;
}

/**
 * The app loading a capture the way `weft serve` and the desktop app do: a Session over the
 * engine in a child process, the file opened, until idle; then a sorted query of all rows.
 */
export async function appLoad(file: string): Promise<AppLoad> {
  const spoolParent = mkdtempSync(join(tmpdir(), 'weft-bench-app-'));
  const host = new ChildProcessHost({ spoolParent });
  const session = new Session(host);
  try {
    let first = 0;
    const t0 = performance.now();
    session.onDelta((d) => {
      if (!first && d.flows > 0) first = performance.now() - t0;
    });
    const job = await session.openCapture({ path: file });
    if (!job.ok) throw new Error(job.error);
    await session.whenIdle();
    const ms = performance.now() - t0;
    const q0 = performance.now();
    const page = await session.queryFlows({ offset: 0, limit: 100, sort: { key: 'bytesS2c', dir: 'desc' } });
    const sortedQueryMs = performance.now() - q0;
    if (!page.ok || page.value.total !== session.flowCount) throw new Error(`sorted query: ${page.ok ? page.value.total : page.error}`);
    const status = readFileSync(`/proc/${host.pid}/status`, 'utf8');
    const engineRssMB = Math.round(Number(/VmHWM:\s+(\d+)/.exec(status)![1]) / 1024);
    return { ms, flows: session.flowCount, firstFlowsMs: first, sortedQueryMs, engineRssMB };
  } finally {
    await session.close();
    rmSync(spoolParent, { recursive: true, force: true });
  }
}

/** A Stream that only counts bytes: what the engine benchmark delivers to. */
class CountingStream implements Stream {
  static bytes = 0;
  accept(): boolean {
    return true;
  }
  reassembledSG(sg: ScatterGather): void {
    const l = sg.lengths();
    CountingStream.bytes += l[0] - l[1];
  }
  reassemblyComplete(): boolean {
    return true;
  }
}

/** Like CountingStream, and every byte also goes through the HTTP/1.x parsers, gaps included. */
class HttpStream implements Stream {
  static bytes = 0;
  static messages = 0;
  private readonly parsers: DirectionParser[] = httpPlugin.parsers();
  private readonly offset = [0, 0];
  accept(): boolean {
    return true;
  }
  reassembledSG(sg: ScatterGather): void {
    const { dir, skip } = sg.info();
    const [n, saved] = sg.lengths();
    if (skip > 0) {
      this.parsers[dir].gap(skip);
      this.offset[dir] += skip;
    }
    HttpStream.bytes += n - saved;
    HttpStream.messages += this.parsers[dir].push(sg.fetch(n), this.offset[dir]).length;
    this.offset[dir] += n;
  }
  reassemblyComplete(): boolean {
    for (const p of this.parsers) HttpStream.messages += p.end().length;
    return true;
  }
}

/** Read + decode + reassemble `file` the way `weft flows` does, delivering to `make()`'s streams. */
async function reassemble(file: string, make: () => Stream): Promise<number> {
  const pipe = new PacketPipeline({ new: make });
  const r = await readCaptureFile(file, pipe);
  pipe.end();
  return r.packets;
}

export async function measure(name: MeasureName, file: string): Promise<{ bytes: number; packets: number; messages?: number; ms?: number }> {
  switch (name) {
    case 'floor': {
      const r = await walkRecordHeaders(file);
      return { bytes: 0, packets: r.packets };
    }
    case 'decode': {
      const dec = new PacketDecoder();
      let bytes = 0;
      const r = await readCaptureFile(file, {
        packet(p) {
          const d = dec.decode(p);
          if (d.transport === Transport.TCP) bytes += d.payloadCaptured;
        },
      });
      return { bytes, packets: r.packets };
    }
    case 'engine': {
      const packets = await reassemble(file, () => new CountingStream());
      return { bytes: CountingStream.bytes, packets };
    }
    case 'http': {
      const packets = await reassemble(file, () => new HttpStream());
      return { bytes: HttpStream.bytes, packets, messages: HttpStream.messages };
    }
    case 'alloc':
      return { bytes: allocationPerPacket(), packets: 0 };
    case 'app': {
      const a = await appLoad(file);
      return { bytes: 0, packets: a.flows, ...a };
    }
    case 'export': {
      // every flow as raw files, a pcapng slice and jsonl, into a folder deleted afterwards
      const out = mkdtempSync(join(tmpdir(), 'weft-bench-export-'));
      try {
        const r = await exportFlows({ files: [file], formats: ['raw', 'pcapng', 'jsonl'], out });
        const written = r.files.reduce((n, f) => n + statSync(join(out, f)).size, 0);
        return { bytes: written, packets: r.flows };
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    }
    case 'resp':
    case 'resp-scan': {
      // message-heavy: 400,000 pipelined SETs, then their 400,000 replies, in 1448-byte segments;
      // the client side all first, so 400,000 commands wait for pairing (as in a one-sided feed)
      const [cmds, replies] = respPipeline(400_000);
      let messages = 0;
      const t0 = performance.now(); // the parsing only, not building the data
      if (name === 'resp-scan') {
        // the floor: find every line end, nothing else
        for (const b of [cmds, replies]) for (let i = 0; i < b.length; i += 1448) for (let j = b.indexOf(10, i); j >= 0 && j < i + 1448; j = b.indexOf(10, j + 1)) messages++;
      } else {
        const ps = redisPlugin.parsers();
        for (const [dir, b] of [[0, cmds], [1, replies]] as const) for (let i = 0; i < b.length; i += 1448) messages += ps[dir].push(b.subarray(i, i + 1448), i).length;
      }
      return { bytes: cmds.length + replies.length, packets: 0, messages, ms: performance.now() - t0 };
    }
    case 'baseline': {
      const dec = new PacketDecoder();
      const b = new BaselineReassembler();
      const r = await readCaptureFile(file, {
        packet(p) {
          const d = dec.decode(p);
          if (d.transport === Transport.TCP) b.packet(d);
        },
      });
      b.end();
      return { bytes: b.bytes, packets: r.packets };
    }
  }
}

/**
 * Heap bytes the engine allocates per in-order packet (needs --expose-gc): 32 connections of steady
 * 1460-byte segments with ISNs near 2^32, heap growth over 1,000,000 packets minus that over
 * 100,000 (the fixed overhead of measuring), divided by the difference.
 */
function allocationPerPacket(): number {
  const pool = new StreamPool({ new: () => new CountingStream() });
  const asm = new Assembler(pool);
  const ci = { tsSec: 1, tsNsec: 0, frame: 0, capLen: 0, origLen: 0 };
  const ctx = { captureInfo: () => ci };
  const tcp = new TcpHeader();
  const src = new Uint8Array(16);
  const dst = new Uint8Array(16);
  src.set([10, 0, 0, 1]);
  dst.set([10, 0, 0, 2]);
  const net = { ipVersion: 4, src, dst, vlan: -1 };
  const payload = new Uint8Array(1460);
  const seg = { tcp, buf: payload, payloadOffset: 0, payloadLength: 0, payloadCaptured: 0 };
  const conns = 32;
  const seqs = Array.from({ length: conns }, (_, i) => (0xffff0000 + i * 7919) >>> 0);
  const send = (c: number, flags: number, len: number) => {
    tcp.srcPort = 10000 + c;
    tcp.dstPort = 80;
    tcp.seq = seqs[c];
    tcp.flags = flags;
    seg.payloadLength = seg.payloadCaptured = len;
    ci.frame++;
    asm.assemble(net, seg, ctx);
    seqs[c] = (seqs[c] + (flags & 2 ? 1 : len)) >>> 0;
  };
  for (let c = 0; c < conns; c++) send(c, 0x02, 0);
  return heapGrowth((n) => {
    for (let i = 0; i < n; i++) send(i % conns, 0x18, 1460);
  }).perOp;
}

/** A Redis pipeline of `n` SET commands and their replies (+OK, integers, bulk strings). */
function respPipeline(n: number): [Uint8Array, Uint8Array] {
  const c: string[] = [];
  const r: string[] = [];
  for (let i = 0; i < n; i++) {
    const key = `key:${i}`;
    c.push(`*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$5\r\nvalue\r\n`);
    r.push(i % 3 === 0 ? '+OK\r\n' : i % 3 === 1 ? `:${i}\r\n` : '$5\r\nhello\r\n');
  }
  return [new TextEncoder().encode(c.join('')), new TextEncoder().encode(r.join(''))];
}
