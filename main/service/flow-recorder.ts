/**
 * The flow recorder: a Stream that turns each TCP connection into a FlowRecord (DESIGN.md's
 * `weft flows --json` shape): endpoints, times, packets, delivered bytes and their sha256 per
 * direction, gaps, close reason, anomalies. Node-side (it hashes with node:crypto).
 *
 * FlowPipeline is the packet pipeline (packet-pipeline.ts) with a FlowRecorder for streams.
 */
import { createHash, type Hash } from 'node:crypto';
import { formatEndpoint } from '../engine/decode';
import type { TcpHeader } from '../engine/decode/layers';
import {
  type Assembler,
  type AssemblerContext,
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
import { copyBytes } from '../engine/util/bytes';
import type { ReadOptions } from '../sources/capture-source';
import { FirstBytes } from './first-bytes';
import { PacketPipeline, readInputs, type PipelineOptions } from './packet-pipeline';

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
  /** Zeek's conn.log history letters (S, H, A, D, F, R; the client's upper case, the server's lower), first occurrence each. */
  history: string;
  /** Zeek's conn_state (S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR, OTH). */
  connState: string;
}

/** A connection's TCP flags as Zeek's history letters and conn_state need them. */
export class FlagHistory {
  private seen = new Set<string>();
  history = '';
  /** Flags seen from each side: [client, server]. */
  readonly flags = [0, 0];
  private data = [false, false];

  add(dir: 0 | 1, flags: number, payload: number): void {
    this.flags[dir] |= flags;
    const syn = flags & 2, ack = flags & 16, fin = flags & 1, rst = flags & 4;
    if (syn) this.letter(dir, ack ? 'h' : 's');
    else if (ack && payload === 0 && !fin && !rst) this.letter(dir, 'a');
    if (payload > 0) {
      this.data[dir] = true;
      this.letter(dir, 'd');
    }
    if (fin) this.letter(dir, 'f');
    if (rst) this.letter(dir, 'r');
  }

  private letter(dir: 0 | 1, l: string): void {
    const c = dir === 0 ? l.toUpperCase() : l;
    if (this.seen.has(c)) return;
    this.seen.add(c);
    this.history += c;
  }

  /** Zeek's conn_state from what each side sent. */
  state(): string {
    const [o, r] = this.flags;
    const oSyn = (o & 2) !== 0;
    const rSynAck = (r & 2) !== 0;
    const oFin = (o & 1) !== 0, rFin = (r & 1) !== 0, oRst = (o & 4) !== 0, rRst = (r & 4) !== 0;
    if (oSyn && !rSynAck) {
      if (rRst) return 'REJ';
      if (oRst) return 'RSTOS0';
      if (oFin) return 'SH';
      return 'S0';
    }
    if (!oSyn && rSynAck) {
      if (rRst) return 'RSTRH';
      if (rFin) return 'SHR';
    }
    if (oSyn && rSynAck) {
      if (oRst) return 'RSTO';
      if (rRst) return 'RSTR';
      if (oFin && rFin) return 'SF';
      if (oFin) return 'S2';
      if (rFin) return 'S3';
      return 'S1';
    }
    if (oRst) return 'RSTO';
    if (rRst) return 'RSTR';
    return 'OTH';
  }
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
  /** The first bytes of each direction, for protocol detection. */
  readonly first = new FirstBytes();

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

  readonly flags = new FlagHistory();

  accept(t: TcpHeader, ci: CaptureInfo, dir: TCPFlowDirection): boolean {
    this.packets[dir]++;
    this.flags.add(dir, t.flags, this.owner.payloadOfPacket());
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
    this.first.add(info.dir, sg, total);
    this.bytes[info.dir] += n;
    // No keepFrom here, so kept is 0 and every piece is new.
    sg.pieces(this.hashPiece);
    if (this.follow) {
      const ci = sg.captureInfo(0);
      this.follow.push({ dir: info.dir, bytes: copyBytes(sg.fetch(total)), skip: info.skip, frame: ci.frame, tsSec: ci.tsSec, tsNsec: ci.tsNsec });
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
  /** The payload length of the packet being assembled (the pipeline that drives the recorder sets this). */
  payloadOfPacket: () => number = () => 0;

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
      protocol: s.first.detect()?.name ?? null,
      ipVersion: c.ipVersion,
      vlan: c.vlan >= 0 ? c.vlan : null,
      history: s.flags.history,
      connState: s.flags.state(),
    };
    if (this.followed && s.follow === this.followed) this.followedRecord = r;
    this.onFlow(r);
  }
}

export interface FlowRunOptions extends PipelineOptions {
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

/** Packets in, FlowRecords out (the packet pipeline with a FlowRecorder for streams). */
export class FlowPipeline extends PacketPipeline {
  readonly recorder: FlowRecorder;
  private readonly counter: { flows: number };

  constructor(onFlow: (r: FlowRecord) => void, opts: FlowRunOptions = {}) {
    const counter = { flows: 0 };
    const recorder = new FlowRecorder(
      (r) => {
        counter.flows++;
        onFlow(r);
      },
      { follow: opts.follow },
    );
    super(recorder, opts);
    this.recorder = recorder;
    recorder.payloadOfPacket = () => this.last?.payloadLength ?? 0;
    this.counter = counter;
  }

  /** Connections completed so far. */
  get flows(): number {
    return this.counter.flows;
  }
}

/**
 * Reads the files in order as one capture (connections may continue from one file into the
 * next), and emits a FlowRecord per TCP connection as it completes. "-" reads standard input.
 */
export async function runFlows(files: string[], onFlow: (r: FlowRecord) => void, opts: FlowRunOptions = {}): Promise<FlowRunResult> {
  const pipe = new FlowPipeline(onFlow, opts);
  const errors = await readInputs(files, pipe, opts.read);
  pipe.end();
  const recorder = pipe.recorder;
  return {
    packets: pipe.packets,
    tcpPackets: pipe.tcpPackets,
    flows: pipe.flows,
    errors,
    followed: opts.follow !== undefined ? { record: recorder.followedRecord, deliveries: recorder.followed ?? [] } : null,
    assembler: pipe.assembler,
  };
}
