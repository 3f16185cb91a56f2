/**
 * `weft flows` over N engine workers (sharded.ts): the reader feeds the ring, the workers run
 * FlowsTask, and FlowsMerger turns their batches into the capture's flows — capture-wide numbers,
 * the filter, one order — exactly as N = 1 would print them.
 */
import type { ResourceLimits } from 'node:worker_threads';
import type { CaptureFormatError } from '../../engine/formats';
import type { OverlapPolicy } from '../../engine/reassembly';
import type { ReadOptions } from '../../sources/capture-source';
import type { FlowPredicate } from '../pipeline/flow-query';
import { idPrefix, revive, type FlowsResult, type FlowsTaskSpec } from './flows-task';
import { newRing } from './ring';
import { readInputsToRing, RingFeeder, startWorkers } from './sharded';

/**
 * Merges the workers' batches, batch by batch (every worker reports every batch, so a batch's
 * results are complete once each has sent it):
 *   - numbers: each worker's creations (the capture packet that took each of its numbers) are
 *     ranked over all workers — at most one number is taken per packet, and a packet is one
 *     worker's, so the rank is the number one thread gives;
 *   - order: flows ended in the batch by (capture packet at which they ended, number).
 * A worker's number is remembered only until its flow ends.
 */
export class FlowsMerger {
  private readonly queues: FlowsResult[][];
  private readonly numbers: Map<number, number>[];
  private readonly nextLocal: number[];
  private nextNumber = 1;
  private finals = 0;
  /** Each worker's TCP packets, once it ended. */
  tcpPackets = 0;

  constructor(
    private readonly workers: number,
    /** A flow, in order: its capture-wide number, 0 TCP / 1 UDP, and where its line (without the number) and facts are: r.text[start, end), r.facts[i]. */
    private readonly onFlow: (id: number, kind: number, r: FlowsResult, i: number, start: number, end: number) => void,
  ) {
    this.queues = Array.from({ length: workers }, () => []);
    this.numbers = Array.from({ length: workers }, () => new Map());
    this.nextLocal = new Array(workers).fill(1);
  }

  /** Every worker sent its last batch. */
  get done(): boolean {
    return this.finals === this.workers;
  }

  add(w: number, r: FlowsResult): void {
    if (r.final) this.tcpPackets += r.tcpPackets ?? 0;
    this.queues[w].push(r);
    while (this.queues.every((q) => q.length > 0)) this.step();
  }

  private step(): void {
    const rs = this.queues.map((q) => q.shift()!);
    const seq = rs[0].seq;
    if (rs.some((r) => r.seq !== seq)) throw new Error(`engine threads out of step (batches ${rs.map((r) => r.seq).join(', ')})`);
    this.number(rs);
    const order: number[] = [];
    const ks: number[] = [];
    const gids: number[] = [];
    for (let w = 0; w < rs.length; w++) {
      const r = rs[w];
      const m = this.numbers[w];
      for (let i = 0; i < r.ids.length; i++) {
        const gid = m.get(r.ids[i]);
        if (gid === undefined) throw new Error(`engine thread ${w + 1} ended flow ${r.ids[i]}, which it never began`);
        m.delete(r.ids[i]);
        order.push(order.length);
        ks.push(r.ks[i]);
        gids.push(gid);
      }
    }
    order.sort((a, b) => ks[a] - ks[b] || gids[a] - gids[b]);
    // the i-th flow of worker w sits at place (sum of the earlier workers' counts) + i
    const starts: number[] = [];
    for (let w = 0, at = 0; w < rs.length; at += rs[w].ids.length, w++) starts.push(at);
    for (const j of order) {
      let w = rs.length - 1;
      while (starts[w] > j) w--;
      const r = rs[w];
      const i = j - starts[w];
      this.onFlow(gids[j], r.kinds[i], r, i, r.starts[i], r.ends[i]);
    }
    if (rs.every((r) => r.final)) this.finals = this.workers;
  }

  /** Ranks the batch's creations over the workers (each worker's list is in capture order already). */
  private number(rs: FlowsResult[]): void {
    const at = new Array(rs.length).fill(0);
    for (;;) {
      let best = -1;
      for (let w = 0; w < rs.length; w++) if (at[w] < rs[w].creations.length && (best < 0 || rs[w].creations[at[w]] < rs[best].creations[at[best]])) best = w;
      if (best < 0) return;
      at[best]++;
      this.numbers[best].set(this.nextLocal[best]++, this.nextNumber++);
    }
  }
}

export interface ShardedFlowsOptions {
  threads: number;
  json: boolean;
  idleSec: number;
  policy: OverlapPolicy;
  hostPolicies: string[];
  maxConnections?: number;
  filter?: FlowPredicate;
  read?: ReadOptions;
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
  const ring = newRing(n, opts.chunkBytes);
  const res: ShardedFlowsResult = { packets: 0, tcpPackets: 0, flows: 0, kept: 0, udpConversations: 0, udpKept: 0, errors: [] };
  const filter = opts.filter;
  const merger = new FlowsMerger(n, (id, kind, r, i, start, end) => {
    if (kind === 0) res.flows++;
    else res.udpConversations++;
    if (filter && !filter(revive(r.facts[i]!, id))) return;
    if (kind === 0) res.kept++;
    else res.udpKept++;
    opts.line(idPrefix(opts.json, id), r.text, start, end);
  });
  let failure: Error | null = null;
  let settle: (() => void) | null = null;
  const settled = new Promise<void>((resolve) => (settle = resolve));
  // each worker holds its share of the connection limit (a limit is per table)
  const share = opts.maxConnections === undefined ? undefined : Math.max(1, Math.ceil(opts.maxConnections / n));
  const spec = (): FlowsTaskSpec => ({ kind: 'flows', json: opts.json, facts: filter !== undefined, idleSec: opts.idleSec, policy: opts.policy, hostPolicies: opts.hostPolicies, maxConnections: share });
  let feeder: RingFeeder | null = null;
  const { workers, spillPorts } = startWorkers<FlowsResult>(
    ring,
    n,
    spec,
    (w, r) => {
      try {
        merger.add(w, r);
      } catch (e) {
        fail(e as Error);
      }
      if (merger.done) settle!();
    },
    (e) => fail(e),
    opts.workerLimits,
  );
  function fail(e: Error): void {
    if (failure) return;
    failure = e;
    if (feeder) {
      feeder.failure = e;
      feeder.abort();
    }
    settle!();
  }
  feeder = new RingFeeder(ring, n, spillPorts);
  try {
    try {
      res.errors = await readInputsToRing(files, feeder, opts.read);
    } catch (e) {
      if (!failure) throw e;
    }
    feeder.end();
    await settled;
    if (failure) throw failure;
  } finally {
    feeder.abort();
    for (const p of spillPorts) p.close();
    await Promise.all(workers.map((w) => w.terminate()));
  }
  res.packets = feeder.packets;
  res.tcpPackets = merger.tcpPackets;
  return res;
}
