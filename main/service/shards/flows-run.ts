/**
 * `weft flows` over N engine workers (sharded.ts): the workers run FlowsTask, the merger
 * (results.ts) gives their flows capture-wide numbers and one order, and the filter runs here
 * (it may name `id`, which only the merger knows).
 */
import type { CaptureFormatError } from '../../engine/formats';
import type { OverlapPolicy } from '../../engine/reassembly';
import type { FlowPredicate } from '../pipeline/flow-query';
import { idPrefix, revive, TCP_FLOW, type FlowsTaskSpec, type PlainFacts } from './flows-task';
import { runSharded, shareOf, type ShardedRunTuning } from './sharded';

export interface ShardedFlowsOptions extends ShardedRunTuning {
  threads: number;
  json: boolean;
  idleSec: number;
  policy: OverlapPolicy;
  hostPolicies: string[];
  maxConnections?: number;
  filter?: FlowPredicate;
  /** Each flow's line, in order: `prefix` then bytes b[start, end) (the line without its newline), copied before it returns (the memory is reused). */
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
  const { threads: n, json, idleSec, policy, hostPolicies, maxConnections, filter, line, ...tuning } = opts;
  const res: ShardedFlowsResult = { packets: 0, tcpPackets: 0, flows: 0, kept: 0, udpConversations: 0, udpKept: 0, errors: [] };
  const spec: FlowsTaskSpec = { kind: 'flows', json, facts: filter !== undefined, idleSec, policy, hostPolicies, maxConnections: shareOf(maxConnections, n) };
  const r = await runSharded<PlainFacts>(files, {
    ...tuning,
    threads: n,
    task: spec,
    copied: true,
    item: (id, kind, r, i, from, to) => {
      const tcp = kind === TCP_FLOW;
      if (tcp) res.flows++;
      else res.udpConversations++;
      if (filter && !filter(revive(r.extra[i]!, id))) return;
      if (tcp) res.kept++;
      else res.udpKept++;
      line(idPrefix(json, id), r.text, from, to);
    },
  });
  res.errors = r.errors;
  res.packets = r.packets;
  res.tcpPackets = r.counts.tcpPackets ?? 0;
  return res;
}
