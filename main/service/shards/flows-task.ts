/**
 * `weft flows` in an engine worker: the whole pipeline (decode, defragment, reassemble, record,
 * detect protocols, hash, format) for the connections whose packets this worker is given, and
 * what it made, batch by batch, for the merger (merge.ts) on the reader's thread.
 *
 * A worker does not know the capture-wide connection numbers: it numbers its own connections
 * 1, 2, … and tells, for each number, the packet of the capture that created it (`creations`);
 * the merger ranks those over all workers, which gives exactly the numbers one thread would
 * (they are taken in order of the packet that creates a connection or conversation). Each line
 * is made with the worker's number and sent without it (`tails`): the merger puts the
 * capture-wide one in front.
 */
import type { UdpFlow } from '../../engine/flows';
import { STREAM_ANOMALY_NAMES, type OverlapPolicy } from '../../engine/reassembly';
import type { CapturedPacket } from '../../engine/formats';
import type { FlowState } from '../../ipc/contract';
import { accumulatorFacts, flowFacts, udpFacts, type FlowFacts } from '../pipeline/flow-query';
import { FlowPipeline, type Flow } from '../pipeline/flow-recorder';
import { row, udpRow } from '../pipeline/flow-rows';
import { hostPolicies } from '../pipeline/host-policy';
import { grownTo } from '../../engine/util/bytes';
import { pairHash } from './ring';

export interface FlowsTaskSpec {
  kind: 'flows';
  /** Lines of JSON (weft flows --json) or table rows. */
  json: boolean;
  /** Send each flow's facts, for a filter the merger applies (it knows the capture-wide numbers). */
  facts: boolean;
  idleSec: number;
  policy: OverlapPolicy;
  hostPolicies: string[];
  /** This worker's share of the connection limit. */
  maxConnections?: number;
}

/** A flow's facts as plain data (to cross threads); revive() makes FlowFacts of them again. */
export interface PlainFacts {
  client: string;
  server: string;
  protocol: string | null;
  transport: 'tcp' | 'udp';
  state: FlowState;
  directionInferred: boolean;
  packets: number;
  bytesC2s: number;
  bytesS2c: number;
  duration: number;
  start: number;
  gapBytes: number;
  conflicts: number;
  anomalies: Record<string, number>;
}

/** What a worker made while it read one batch (or, `final`, at the end of the input): typed arrays, transferred, no object per flow. */
export interface FlowsResult {
  seq: number;
  final: boolean;
  /** The capture packet index that created each of this worker's numbers, in order, taken during the batch. */
  creations: Float64Array;
  /** Per flow ended: the capture packet index at which it ended (Infinity: end of input), its worker number, 0 TCP / 1 UDP. */
  ks: Float64Array;
  ids: Float64Array;
  kinds: Uint8Array;
  /** The lines, back to back (ASCII), and where each begins after its number and ends. */
  text: Uint8Array;
  starts: Int32Array;
  ends: Int32Array;
  /** Per flow, its facts when asked for (a filter). */
  facts: (PlainFacts | null)[];
  /** final only: the TCP packets this worker decoded. */
  tcpPackets?: number;
}

/** The arrays of a result, to transfer. */
export function transferables(r: FlowsResult): ArrayBuffer[] {
  return [r.creations.buffer, r.ks.buffer, r.ids.buffer, r.kinds.buffer, r.text.buffer, r.starts.buffer, r.ends.buffer] as ArrayBuffer[];
}

/** How a line begins with its number (what the merger swaps). */
export function idPrefix(json: boolean, id: number): string {
  return json ? `{"id":${id}` : String(id).padStart(5);
}

/** The length of idPrefix(json, id), without making it. */
function prefixLength(json: boolean, id: number): number {
  let digits = 1;
  for (let v = id; v >= 10; v = Math.floor(v / 10)) digits++;
  return json ? 6 + digits : Math.max(5, digits);
}

/** A growing list of numbers. */
class Numbers {
  a = new Float64Array(256);
  n = 0;
  push(v: number): void {
    if (this.n === this.a.length) this.a = grownTo(this.a, this.n + 1);
    this.a[this.n++] = v;
  }
  take(): Float64Array {
    const r = this.a.slice(0, this.n);
    this.n = 0;
    return r;
  }
}

export class FlowsTask {
  private readonly pipe: FlowPipeline;
  /** The capture packet index being read (Infinity once the input ended). */
  private k = 0;
  private seenIds = 1;
  private readonly creations = new Numbers();
  private readonly ks = new Numbers();
  private readonly ids = new Numbers();
  private kinds = new Uint8Array(256);
  private text: Buffer = Buffer.allocUnsafe(1 << 16);
  private textLen = 0;
  private starts = new Int32Array(256);
  private ends = new Int32Array(256);
  private facts: (PlainFacts | null)[] = [];

  constructor(spec: FlowsTaskSpec, index: number, workers: number) {
    const json = spec.json;
    const emit = (kind: number, id: number, line: string, facts: FlowFacts | null) => {
      const i = this.ks.n;
      this.ks.push(this.k);
      this.ids.push(id);
      if (i === this.kinds.length) {
        this.kinds = grownTo(this.kinds, i + 1);
        this.starts = grownTo(this.starts, i + 1);
        this.ends = grownTo(this.ends, i + 1);
      }
      this.kinds[i] = kind;
      // every line is ASCII (Weft's own words, addresses, digests): written as it is, its number skipped on reading
      if (this.textLen + line.length > this.text.length) this.text = grownBuffer(this.text, this.textLen + line.length);
      this.starts[i] = this.textLen + prefixLength(json, id);
      this.textLen += this.text.write(line, this.textLen, 'latin1');
      this.ends[i] = this.textLen;
      if (wantFacts) this.facts.push(facts === null ? null : plain(facts));
    };
    const wantFacts = spec.facts;
    this.pipe = new FlowPipeline(json ? { json: (line, a) => emit(0, a.id, line, wantFacts ? accumulatorFacts(a) : null) } : (f: Flow) => emit(0, f.id, row(f), wantFacts ? flowFacts(f) : null), {
      idleSec: spec.idleSec,
      udp: (u: UdpFlow) => emit(1, u.id, json ? JSON.stringify(u) : udpRow(u), wantFacts ? udpFacts(u) : null),
      assembler: { overlapPolicy: spec.policy, policyFor: hostPolicies(spec.hostPolicies), ...(spec.maxConnections === undefined ? {} : { maxConnections: spec.maxConnections }) },
    });
    this.pipe.owns = (d) => pairHash(d.ipVersion, d.src, d.dst) % workers === index;
  }

  /** Packet `k` of the capture, this worker's to decode (`shared`: every worker's, see EVERY_WORKER). */
  packet(k: number, p: CapturedPacket, shared = false): void {
    this.k = k;
    this.pipe.packets = k - 1;
    this.pipe.packet(p, shared);
    const pool = this.pipe.assembler.pool;
    for (const next = pool.newId(); this.seenIds < next; this.seenIds++) this.creations.push(k);
  }

  /** Packet `k` of the capture, another worker's: only the clock moves. */
  passBy(k: number, tsSec: number, tsNsec: number): void {
    this.k = k;
    this.pipe.packets = k - 1;
    this.pipe.passBy(tsSec, tsNsec);
  }

  /**
   * Other workers' packets before capture second `quietBeforeSec` and before packet
   * `quietUntilPacket` change nothing here but the count: the worker skips them without a call
   * (they were a tenth of a worker's time when each was passed by).
   */
  get quietBeforeSec(): number {
    return this.pipe.quietBeforeSec;
  }
  get quietUntilPacket(): number {
    return this.pipe.quietUntilPacket;
  }

  /** What the batch made (and a fresh result for the next). */
  take(seq: number): FlowsResult {
    const n = this.ks.n;
    const r: FlowsResult = {
      seq,
      final: false,
      creations: this.creations.take(),
      ks: this.ks.take(),
      ids: this.ids.take(),
      kinds: this.kinds.slice(0, n),
      text: Uint8Array.prototype.slice.call(this.text, 0, this.textLen),
      starts: this.starts.slice(0, n),
      ends: this.ends.slice(0, n),
      facts: this.facts,
    };
    this.textLen = 0;
    this.facts = [];
    return r;
  }

  /** End of input: every flow ends. */
  end(seq: number): FlowsResult {
    this.k = Infinity;
    this.pipe.end();
    const r = this.take(seq);
    r.final = true;
    r.tcpPackets = this.pipe.tcpPackets;
    return r;
  }
}

function grownBuffer(b: Buffer, n: number): Buffer {
  const g = Buffer.allocUnsafe(Math.max(n, b.length * 2));
  b.copy(g);
  return g;
}

function plain(f: FlowFacts): PlainFacts {
  const anomalies: Record<string, number> = {};
  for (const n of STREAM_ANOMALY_NAMES) {
    const v = f.anomaly(n);
    if (v !== 0) anomalies[n] = v;
  }
  return {
    client: f.client,
    server: f.server,
    protocol: f.protocol,
    transport: f.transport,
    state: f.state,
    directionInferred: f.directionInferred,
    packets: f.packets,
    bytesC2s: f.bytesC2s,
    bytesS2c: f.bytesS2c,
    duration: f.duration,
    start: f.start,
    gapBytes: f.gapBytes,
    conflicts: f.conflicts,
    anomalies,
  };
}

/** Plain facts as FlowFacts, with the capture-wide number. */
export function revive(p: PlainFacts, id: number): FlowFacts {
  return { ...p, id, anomaly: (n) => p.anomalies[n] ?? 0 };
}
