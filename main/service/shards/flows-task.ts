/**
 * `weft flows` in an engine worker: the whole pipeline (decode, defragment, reassemble, record,
 * detect protocols, hash, format) for the connections whose packets this worker is given; each
 * flow's line is an item (results.ts), made with the worker's number in front, which the merger
 * replaces with the capture-wide one.
 */
import type { UdpFlow } from '../../engine/flows';
import { STREAM_ANOMALY_NAMES, type OverlapPolicy } from '../../engine/reassembly';
import type { FlowState } from '../../ipc/contract';
import { accumulatorFacts, flowFacts, udpFacts, type FlowFacts } from '../pipeline/flow-query';
import { FlowPipeline, type Flow } from '../pipeline/flow-recorder';
import { row, udpRow } from '../pipeline/flow-rows';
import { hostPolicies } from '../pipeline/host-policy';
import { PipelineTask } from './task';

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
  /** Live: idle connections close on the wall clock (ticks), not the capture's. */
  wall?: boolean;
  /** UDP conversations too (weft flows lists them; weft capture does not). */
  udp?: boolean;
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

/** Item kinds. */
export const TCP_FLOW = 0, UDP_FLOW = 1;

export class FlowsTask extends PipelineTask<FlowPipeline, PlainFacts> {
  constructor(spec: FlowsTaskSpec, index: number, workers: number) {
    const json = spec.json;
    const wantFacts = spec.facts;
    // every line is ASCII (Weft's own words, addresses, digests): copied as bytes, its number skipped
    const emit = (kind: number, id: number, line: string, facts: FlowFacts | null) => this.out.item(this.k, id, kind, true, line, prefixLength(json, id), true, facts && plain(facts));
    super(
      new FlowPipeline(json ? { json: (line, a) => emit(TCP_FLOW, a.id, line, wantFacts ? accumulatorFacts(a) : null) } : (f: Flow) => emit(TCP_FLOW, f.id, row(f), wantFacts ? flowFacts(f) : null), {
        idleSec: spec.idleSec,
        clock: spec.wall ? 'wall' : 'capture',
        udp: spec.udp === false ? undefined : (u: UdpFlow) => emit(UDP_FLOW, u.id, json ? JSON.stringify(u) : udpRow(u), wantFacts ? udpFacts(u) : null),
        assembler: { overlapPolicy: spec.policy, policyFor: hostPolicies(spec.hostPolicies), ...(spec.maxConnections === undefined ? {} : { maxConnections: spec.maxConnections }) },
      }),
      index,
      workers,
    );
  }
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
