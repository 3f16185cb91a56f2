/**
 * `weft flows` over N engine workers (sharded.ts): the workers run FlowsTask, the merger
 * (results.ts) gives their flows capture-wide numbers and one order, and the filter runs here
 * (it may name `id`, which only the merger knows).
 */
import type { ResourceLimits } from 'node:worker_threads';
import type { CaptureFormatError } from '../../engine/formats';
import type { OverlapPolicy } from '../../engine/reassembly';
import type { ReadOptions } from '../../sources/capture-source';
import type { FlowPredicate } from '../pipeline/flow-query';
import { idPrefix, revive, TCP_FLOW, type FlowsTaskSpec, type PlainFacts } from './flows-task';
import { runSharded } from './sharded';

export interface ShardedFlowsOptions {
  threads: number;
  json: boolean;
  idleSec: number;
  policy: OverlapPolicy;
  hostPolicies: string[];
  maxConnections?: number;
  filter?: FlowPredicate;
  read?: ReadOptions;
  /** Awaited between merged batches when it returns a promise: the output's backpressure. */
  drain?: () => Promise<void> | void;
  /** Bytes of results not yet merged past which reading waits (default 16 MiB). */
  maxWaitingBytes?: number;
  /** Bounds on each worker's heap (a worker past them fails, and the run with it, with a message). */
  workerLimits?: ResourceLimits;
  /** Bytes read at a time (default ring.ts' CHUNK). */
  chunkBytes?: number;
  /** Each flow's line, in order: `prefix` then bytes b[start, end) (the line without its newline). */
  line: (prefix: string, b: Uint8Array, start: number, end: number) => void;
}

export interface ShardedFlowsResult {
  packets: number;
  tcpPackets: number;
  flows: number;
  kept: number;
  udpConversations: number;
  udpKept: number;
  errors: CaptureFormatError[];
}

/** `weft flows` (table or JSON) over opts.threads engine workers. */
export async function runShardedFlows(files: string[], opts: ShardedFlowsOptions): Promise<ShardedFlowsResult> {
  const n = opts.threads;
  const res: ShardedFlowsResult = { packets: 0, tcpPackets: 0, flows: 0, kept: 0, udpConversations: 0, udpKept: 0, errors: [] };
  const filter = opts.filter;
  // each worker holds its share of the connection limit (a limit is per table)
  const share = opts.maxConnections === undefined ? undefined : Math.max(1, Math.ceil(opts.maxConnections / n));
  const spec: FlowsTaskSpec = { kind: 'flows', json: opts.json, facts: filter !== undefined, idleSec: opts.idleSec, policy: opts.policy, hostPolicies: opts.hostPolicies, maxConnections: share };
  const r = await runSharded<PlainFacts>(files, {
    threads: n,
    task: spec,
    workerLimits: opts.workerLimits,
    chunkBytes: opts.chunkBytes,
    read: opts.read,
    drain: opts.drain,
    maxWaitingBytes: opts.maxWaitingBytes,
    item: (id, kind, r, i, from, to) => {
      const tcp = kind === TCP_FLOW;
      if (tcp) res.flows++;
      else res.udpConversations++;
      if (filter && !filter(revive(r.extra[i]!, id))) return;
      if (tcp) res.kept++;
      else res.udpKept++;
      opts.line(idPrefix(opts.json, id), r.text, from, to);
    },
  });
  res.errors = r.errors;
  res.packets = r.packets;
  res.tcpPackets = r.counts.tcpPackets ?? 0;
  return res;
}
