/**
 * `weft flows` as a pipeline: every TCP connection becomes a Flow (main/engine/flows) when it
 * completes, handed to `onFlow` and then forgotten — a closed connection keeps nothing here.
 * Hashes are node's sha256 (NODE_HASHES). `--follow N` keeps connection N's deliveries.
 */
import { AfterCloseWindow, FlowFactory, flowJson, flowOf, jsonInput, UdpTable, udpFlowOf, type Flow, type FlowAccumulator, type UdpFlow } from '../../engine/flows';
import type { Assembler, TCPFlowDirection } from '../../engine/reassembly';
import type { CaptureFormatError, CapturedPacket } from '../../engine/formats';
import { copyBytes } from '../../engine/util/bytes';
import type { ReadOptions } from '../../sources/capture-source';
import { accumulatorFacts, udpFacts, type FlowPredicate } from './flow-query';
import { NODE_HASHES } from './hashes';
import { PacketPipeline, readInputs, type PipelineOptions } from './packet-pipeline';

export type { Flow, PerDirection } from '../../engine/flows';

/** Bytes of one direction as delivered, with where gaps sit (for --follow). */
export interface Delivery {
  dir: TCPFlowDirection;
  bytes: Uint8Array;
  skip: number;
  frame: number;
  tsSec: number;
  tsNsec: number;
}

export interface FlowRunOptions extends PipelineOptions {
  /** Only flows this keeps go to the sink (the flows filter language, compileFilter). */
  filter?: FlowPredicate;
  /** Connection id whose delivered bytes are kept for display (weft flows --follow). */
  follow?: number;
  /** Where UDP conversations go as they end (kept only when given; the filter applies to them too). */
  udp?: (u: UdpFlow) => void;
  read?: ReadOptions;
}

export interface FlowRunResult {
  packets: number;
  tcpPackets: number;
  flows: number;
  /** UDP conversations ended (when opts.udp was given), and of them those the filter kept. */
  udpConversations: number;
  udpKept: number;
  /** Flows the filter kept (all without one). */
  kept: number;
  errors: CaptureFormatError[];
  followed: { record: Flow | null; deliveries: Delivery[] } | null;
  assembler: Assembler;
}

/**
 * Where completed flows go: a function given each Flow, or `json`, given each flow's line of JSON
 * (what `weft flows --json` prints; flowJson) and its accumulator, without the Flow object being made.
 */
export type FlowSink =
  | ((f: Flow) => void)
  | { json: (line: string, a: FlowAccumulator) => void };

/** Packets in, Flows out (the packet pipeline with a FlowFactory for streams). */
export class FlowPipeline extends PacketPipeline {
  /** Connections completed so far, and of them those the filter kept. */
  flows = 0;
  kept = 0;
  /** UDP conversations ended so far, and of them those the filter kept. */
  udpConversations = 0;
  udpKept = 0;
  /** --follow: the followed connection's deliveries and, once complete, its Flow. */
  followed: Delivery[] | null = null;
  followedRecord: Flow | null = null;

  constructor(sink: FlowSink, opts: FlowRunOptions = {}) {
    const factory = new FlowFactory({ hashes: NODE_HASHES, listener: { complete: () => {} } });
    super(factory, opts);
    const follow = opts.follow;
    if (follow !== undefined) this.followed = [];
    factory.payloadOfPacket = () => this.last?.payloadLength ?? 0;
    // FIN and RST closes are reported once their packets after the close are in (AfterCloseWindow)
    this.assembler.afterClose = (id, dir, flags, payload) => this.late.packet(id, dir, flags, payload, this.assembler.now, this.packets);
    const report = (a: FlowAccumulator) => {
      this.flows++;
      if (opts.filter && !opts.filter(accumulatorFacts(a))) return;
      this.kept++;
      const f = typeof sink === 'function' || a.id === follow ? flowOf(a) : null;
      if (a.id === follow) this.followedRecord = f;
      if (typeof sink === 'function') sink(f!);
      else sink.json(flowJson(jsonInput(a)), a);
    };
    this.late = new AfterCloseWindow(report);
    const onUdp = opts.udp;
    if (onUdp)
      this.udp = new UdpTable({
        hashes: NODE_HASHES,
        nextId: () => this.assembler.pool.takeId(),
        maxConversations: opts.assembler?.maxConnections,
        complete: (c) => {
          this.udpConversations++;
          const u = udpFlowOf(c, NODE_HASHES);
          if (opts.filter && !opts.filter(udpFacts(u))) return;
          this.udpKept++;
          onUdp(u);
        },
      });
    factory.listener = {
      complete: (a) => this.late.closed(a, this.packets),
      delivery:
        follow === undefined
          ? undefined
          : (a, sg) => {
              if (a.id !== follow) return;
              const [n] = sg.lengths();
              if (n === 0) return;
              const info = sg.info();
              const ci = sg.captureInfo(0);
              this.followed!.push({ dir: info.dir, bytes: copyBytes(sg.fetch(n)), skip: info.skip, frame: ci.frame, tsSec: ci.tsSec, tsNsec: ci.tsNsec });
            },
    };
  }

  private readonly late: AfterCloseWindow;

  override packet(p: CapturedPacket, shared = false): void {
    super.packet(p, shared);
    this.late.advance(p.tsSec + p.tsNsec / 1e9, this.packets);
  }

  override passBy(tsSec: number, tsNsec: number): void {
    super.passBy(tsSec, tsNsec);
    this.late.advance(tsSec + tsNsec / 1e9, this.packets);
  }

  /** passBy() does nothing but count before this capture second (and before quietUntilPacket). */
  override get quietBeforeSec(): number {
    return Math.min(super.quietBeforeSec, Math.floor(this.late.quietBefore));
  }
  override get quietUntilPacket(): number {
    return this.late.quietUntilPacket;
  }

  override tick(nowSec = Date.now() / 1000): void {
    super.tick(nowSec);
    this.late.advance(nowSec, this.packets);
  }

  override end(): void {
    // no packet follows: a flow waiting after its close is done, in number order with the rest
    super.end(this.late.endingBelow());
  }
}

/**
 * Reads the files in order as one capture (connections may continue from one file into the
 * next), and emits a Flow per TCP connection as it completes. "-" reads standard input.
 */
export async function runFlows(files: string[], sink: FlowSink, opts: FlowRunOptions = {}): Promise<FlowRunResult> {
  const pipe = new FlowPipeline(sink, opts);
  const errors = await readInputs(files, pipe, opts.read);
  pipe.end();
  return {
    packets: pipe.packets,
    tcpPackets: pipe.tcpPackets,
    flows: pipe.flows,
    kept: pipe.kept,
    udpConversations: pipe.udpConversations,
    udpKept: pipe.udpKept,
    errors,
    followed: opts.follow !== undefined ? { record: pipe.followedRecord, deliveries: pipe.followed ?? [] } : null,
    assembler: pipe.assembler,
  };
}
