/**
 * The flow recorder: a Stream that turns each TCP connection into a FlowRecord (DESIGN.md's
 * `weft flows --json` shape): endpoints, times, packets, delivered bytes and their sha256 per
 * direction, gaps, close reason, anomalies. Node-side (it hashes with node:crypto).
 *
 * And the pipeline that drives it: files → CaptureReader → PacketDecoder → Assembler → records,
 * with capture-time idle flushing and a final flushAll, shared by the CLI and the benchmarks.
 */
import { createHash, type Hash } from 'node:crypto';
import { formatEndpoint, PacketDecoder, Transport, type DecodedPacket } from '../engine/decode';
import type { TcpHeader } from '../engine/decode/layers';
import {
  Assembler,
  StreamPool,
  type AssemblerContext,
  type AssemblerOptions,
  type CaptureInfo,
  type CloseReason,
  type ConnectionState,
  type Gap,
  type NetFlow,
  type ScatterGather,
  type Stream,
  type StreamFactory,
  type TCPFlowDirection,
  type TcpFlow,
} from '../engine/reassembly';
import type { CaptureFormatError } from '../engine/formats';
import { readCaptureFile, type ReadOptions } from '../sources/capture-source';

export interface PerDirection<T> {
  c2s: T;
  s2c: T;
}

export interface FlowRecord {
  /** Connection number, in order of first packet (1-based). */
  id: number;
  client: string;
  server: string;
  firstSeen: number;
  lastSeen: number;
  packets: PerDirection<number>;
  bytes: PerDirection<number>;
  sha256: PerDirection<string>;
  /** Bytes skipped (never seen). */
  gaps: PerDirection<number>;
  close: CloseReason;
  directionInferred: boolean;
  /** Anomaly counters, both directions added up (per direction in anomaliesByDirection). */
  anomalies: Record<string, number>;
  anomaliesByDirection: PerDirection<Record<string, number>>;
  /** Each gap: offset in the delivered stream, length, cause (first 1000 per direction). */
  gapList: PerDirection<Gap[]>;
  protocol: string | null;
  ipVersion: number;
  vlan: number | null;
}

/** Bytes of one direction as delivered, with where gaps sit (for --follow). */
export interface Delivery {
  dir: TCPFlowDirection;
  bytes: Uint8Array;
  skip: number;
  frame: number;
  tsSec: number;
  tsNsec: number;
}

class FlowStream implements Stream {
  readonly hashes: [Hash, Hash] = [createHash('sha256'), createHash('sha256')];
  readonly bytes = [0, 0];
  readonly packets = [0, 0];
  conn!: ConnectionState;
  lastSec = 0;
  lastNsec = 0;
  private readonly hashPiece = (buf: Uint8Array, off: number, len: number) => {
    this.hashes[this.curDir].update(buf.subarray(off, off + len));
  };
  private curDir: TCPFlowDirection = 0;

  constructor(
    private readonly owner: FlowRecorder,
    readonly id: number,
    readonly client: string,
    readonly server: string,
    readonly follow: Delivery[] | null,
  ) {}

  attach(conn: ConnectionState): void {
    this.conn = conn;
  }

  accept(_t: TcpHeader, ci: CaptureInfo, dir: TCPFlowDirection): boolean {
    this.packets[dir]++;
    this.lastSec = ci.tsSec;
    this.lastNsec = ci.tsNsec;
    return true;
  }

  reassembledSG(sg: ScatterGather): void {
    const info = sg.info();
    const [total, kept] = sg.lengths();
    const n = total - kept;
    if (n <= 0) return;
    this.curDir = info.dir;
    this.bytes[info.dir] += n;
    // No keepFrom here, so kept is 0 and every piece is new.
    sg.pieces(this.hashPiece);
    if (this.follow) {
      const ci = sg.captureInfo(0);
      this.follow.push({ dir: info.dir, bytes: sg.fetch(total).slice(), skip: info.skip, frame: ci.frame, tsSec: ci.tsSec, tsNsec: ci.tsNsec });
    }
  }

  reassemblyComplete(_ctx: AssemblerContext, reason: CloseReason): boolean {
    this.owner.complete(this, reason);
    return true;
  }
}

export interface RecorderOptions {
  /** Connection id whose delivered bytes are kept for display (weft flows --follow). */
  follow?: number;
}

/** StreamFactory + sink: completed connections come out through `onFlow` as FlowRecords. */
export class FlowRecorder implements StreamFactory {
  private nextId = 1;
  followed: Delivery[] | null = null;
  followedRecord: FlowRecord | null = null;

  constructor(
    private readonly onFlow: (r: FlowRecord) => void,
    private readonly opts: RecorderOptions = {},
  ) {}

  new(net: NetFlow, tcpFlow: TcpFlow, tcp: TcpHeader): Stream {
    const id = this.nextId++;
    void tcp;
    const clientIsSrc = tcpFlow.senderIsClient;
    const client = formatEndpoint(net.ipVersion, clientIsSrc ? net.src : net.dst, tcpFlow.clientPort);
    const server = formatEndpoint(net.ipVersion, clientIsSrc ? net.dst : net.src, tcpFlow.serverPort);
    const follow = this.opts.follow === id ? (this.followed = []) : null;
    return new FlowStream(this, id, client, server, follow);
  }

  complete(s: FlowStream, reason: CloseReason): void {
    const c = s.conn;
    const h = c.halves;
    const anomalies: Record<string, number> = {};
    const byDir = [h[0].anomalyObject(), h[1].anomalyObject()];
    for (const o of byDir) for (const [k, v] of Object.entries(o)) anomalies[k] = (anomalies[k] ?? 0) + v;
    const r: FlowRecord = {
      id: s.id,
      client: s.client,
      server: s.server,
      firstSeen: c.firstSec + c.firstNsec / 1e9,
      lastSeen: s.lastSec + s.lastNsec / 1e9,
      packets: { c2s: s.packets[0], s2c: s.packets[1] },
      bytes: { c2s: s.bytes[0], s2c: s.bytes[1] },
      sha256: { c2s: s.hashes[0].digest('hex'), s2c: s.hashes[1].digest('hex') },
      gaps: { c2s: h[0].gapBytes, s2c: h[1].gapBytes },
      close: reason,
      directionInferred: c.directionInferred,
      anomalies,
      anomaliesByDirection: { c2s: byDir[0], s2c: byDir[1] },
      gapList: { c2s: [...h[0].gaps], s2c: [...h[1].gaps] },
      protocol: null,
      ipVersion: c.ipVersion,
      vlan: c.vlan >= 0 ? c.vlan : null,
    };
    if (this.followed && s.follow === this.followed) this.followedRecord = r;
    this.onFlow(r);
  }
}

/** AssemblerContext over the packet being assembled (one object, updated per packet). */
class PacketContext implements AssemblerContext {
  readonly ci: CaptureInfo = { tsSec: 0, tsNsec: 0, frame: 0, capLen: 0, origLen: 0 };
  captureInfo(): CaptureInfo {
    return this.ci;
  }
}

export interface FlowRunOptions {
  /** Close connections idle this many capture seconds (default 600). */
  idleSec?: number;
  assembler?: Partial<AssemblerOptions>;
  follow?: number;
  read?: ReadOptions;
}

export interface FlowRunResult {
  packets: number;
  tcpPackets: number;
  flows: number;
  errors: CaptureFormatError[];
  followed: { record: FlowRecord | null; deliveries: Delivery[] } | null;
  assembler: Assembler;
}

/**
 * Reads the files in order as one capture (connections may continue from one file into the
 * next), and emits a FlowRecord per TCP connection as it completes.
 */
export async function runFlows(files: string[], onFlow: (r: FlowRecord) => void, opts: FlowRunOptions = {}): Promise<FlowRunResult> {
  const idle = opts.idleSec ?? 600;
  let flows = 0;
  const recorder = new FlowRecorder(
    (r) => {
      flows++;
      onFlow(r);
    },
    { follow: opts.follow },
  );
  const pool = new StreamPool(recorder);
  const asm = new Assembler(pool, opts.assembler);
  const dec = new PacketDecoder();
  const ctx = new PacketContext();
  const ci = ctx.ci;
  let packets = 0;
  let tcpPackets = 0;
  let nextFlush = -Infinity;
  const errors: CaptureFormatError[] = [];
  const sink = {
    packet(p: { frame: number; tsSec: number; tsNsec: number; capLen: number; origLen: number; linkType: number; buf: Uint8Array; offset: number; ifIndex: number; fileOffset: number }) {
      packets++;
      const d: DecodedPacket = dec.decode(p);
      if (d.transport !== Transport.TCP) return;
      tcpPackets++;
      ci.tsSec = p.tsSec;
      ci.tsNsec = p.tsNsec;
      ci.frame = packets;
      ci.capLen = p.capLen;
      ci.origLen = p.origLen;
      if (p.tsSec >= nextFlush) {
        // Before this packet is assembled: it must not make its own connection look busy.
        if (nextFlush !== -Infinity) asm.flushCloseOlderThan(p.tsSec + p.tsNsec / 1e9 - idle);
        nextFlush = p.tsSec + 1;
      }
      asm.assemble(d, d, ctx);
    },
  };
  for (const f of files) {
    const r = await readCaptureFile(f, sink, opts.read);
    if (r.error) errors.push(r.error);
  }
  asm.flushAll();
  return {
    packets,
    tcpPackets,
    flows,
    errors,
    followed: opts.follow !== undefined ? { record: recorder.followedRecord, deliveries: recorder.followed ?? [] } : null,
    assembler: asm,
  };
}
