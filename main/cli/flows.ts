import { compileFilter } from '../service/pipeline/flow-query';
import { runFlows, type Delivery, type Flow } from '../service/pipeline/flow-recorder';
import type { OverlapPolicy } from '../engine/reassembly';
import { hostPolicies } from '../service/pipeline/host-policy';
import { replayPolicies, type PolicyReplay } from '../service/pipeline/replay';
import { formatTime, humanBytes } from './format';
import { UsageError, type BufferedOut } from './io';
import { printable } from '../engine/util/printable';
import { header } from '../service/pipeline/flow-rows';
import { runShardedFlows } from '../service/shards/flows-run';
import type { ReadOptions } from '../sources/capture-source';

export { header, row } from '../service/pipeline/flow-rows';

export interface FlowsArgs {
  files: string[];
  json: boolean;
  policy: OverlapPolicy;
  idleSec: number;
  follow?: number;
  /** With follow: replay the connection under every overlap policy and print how they differ. */
  comparePolicies?: boolean;
  maxConnections?: number;
  /** Only the flows this filter keeps (the app's filter language). */
  filter?: string;
  /** Engine threads (not with follow, which reads one connection on this thread); default 1. */
  threads?: number;
  /** The --host-policy specs (NET=POLICY), checked already. */
  hostPolicies?: string[];
}

/**
 * `weft flows FILE… [--json] [--policy P] [--idle S] [--follow N]`. Flows are printed as
 * they complete (so output starts before a large file is read). Returns the number of damaged files.
 */
export async function flowsCommand(a: FlowsArgs, out: BufferedOut, err: BufferedOut): Promise<number> {
  if (a.follow === undefined) return shardedFlows(a, out, err);
  // --follow: one connection's bytes, read on this thread
  const follow = a.follow;
  const r = await runFlows(a.files, () => {}, {
    idleSec: a.idleSec,
    assembler: { overlapPolicy: a.policy, policyFor: hostPolicies(a.hostPolicies ?? []), maxConnections: a.maxConnections },
    follow,
    filter: a.filter ? filterOf(a.filter) : undefined,
  });
  for (const e of r.errors) err.line(`weft: warning: ${e.message}`);
  const f = r.followed;
  if (!f?.record) {
    err.line(`weft: no connection ${follow} (the capture has ${r.flows})`);
    return r.errors.length + 1;
  }
  if (a.comparePolicies) printPolicies(f.record, await replayPolicies(a.files, f.record.client, f.record.server, f.record.firstSeen), out, a.json);
  else printFollow(f.record, f.deliveries, out);
  return r.errors.length;
}

/** weft flows over a.threads engine threads (shards/): the same lines, in the same order, for every N. */
async function shardedFlows(a: FlowsArgs, out: BufferedOut, err: BufferedOut): Promise<number> {
  if (!a.json) out.line(header());
  const r = await runShardedFlows(a.files, {
    threads: a.threads ?? 1,
    json: a.json,
    idleSec: a.idleSec,
    policy: a.policy,
    hostPolicies: a.hostPolicies ?? [],
    maxConnections: a.maxConnections,
    filter: a.filter ? filterOf(a.filter) : undefined,
    line: (prefix, b, start, end) => out.lineOf(prefix, b, start, end),
    ...outputBound(out),
  });
  for (const e of r.errors) err.line(`weft: warning: ${e.message}`);
  if (!a.json) {
    const udp = r.udpConversations === 0 ? '' : `, ${a.filter ? `${r.udpKept} of ` : ''}${r.udpConversations} UDP conversation${r.udpConversations === 1 ? '' : 's'}`;
    out.line(`${a.filter ? `${r.kept} of ` : ''}${r.flows} connection${r.flows === 1 ? '' : 's'}${udp}${a.filter ? ' shown' : ''}, ${r.tcpPackets} TCP packets of ${r.packets}`);
  }
  return r.errors.length;
}

/**
 * A sharded run's hold on the output: the reader waits when the output is behind, and stops when
 * the output's reader went away (`weft flows … | head`): nothing more would be seen.
 */
export function outputBound(out: BufferedOut): { read: ReadOptions; drain: () => Promise<void> | undefined } {
  const gone = new AbortController();
  return {
    read: {
      signal: gone.signal,
      afterChunk: () => {
        if (out.closed) gone.abort();
        return out.pending > 1 << 16 ? out.flush() : undefined;
      },
    },
    drain: () => (out.pending > 1 << 20 ? out.flush() : undefined),
  };
}

/** The filter, or a usage error that says what is wrong with it. */
function filterOf(expr: string) {
  try {
    return compileFilter(expr);
  } catch (e) {
    throw new UsageError(`--filter: ${(e as Error).message}`);
  }
}

/** What every overlap policy makes of a connection: the outcomes, then the ranges where they differ. */
function printPolicies(f: Flow, r: PolicyReplay, out: BufferedOut, json: boolean): void {
  if (json) return out.line(JSON.stringify({ id: f.id, client: f.client, server: f.server, ...r }));
  out.line(`connection ${f.id}: client ${f.client}, server ${f.server}: ${r.outcomes.length === 1 ? 'every overlap policy gives the same bytes' : `${r.outcomes.length} different outcomes`}`);
  for (const o of r.outcomes) out.line(`  ${o.policies.join(', ')}: client→server ${o.c2s.length} B ${o.c2s.sha256.slice(0, 16)}…, server→client ${o.s2c.length} B ${o.s2c.sha256.slice(0, 16)}…`);
  for (const d of r.differences) {
    out.line(`${d.dir === 'c2s' ? 'client→server' : 'server→client'} offset ${d.offset}, ${d.length} byte${d.length === 1 ? '' : 's'}:`);
    for (const v of d.versions) out.line(`  ${v.policies.join(', ')}: ${printable(Uint8Array.from(v.bytes))}`);
  }
}

/** Follow Stream: both directions in delivery order, turns marked, gaps as notes (not data). */
function printFollow(f: Flow, ds: Delivery[], out: BufferedOut): void {
  out.line(`connection ${f.id}: client ${f.client}, server ${f.server}${f.directionInferred ? ' (direction guessed)' : ''}`);
  out.line(`bytes: client→server ${f.bytes.c2s} (${humanBytes(f.bytes.c2s)}), server→client ${f.bytes.s2c}; closed by ${f.close}`);
  let last = -1;
  for (const d of ds) {
    if (d.skip > 0) out.line(`--- ${d.skip} byte${d.skip === 1 ? '' : 's'} not captured (${d.dir === 0 ? 'client→server' : 'server→client'}) ---`);
    if (d.dir !== last) {
      out.line(`=== ${d.dir === 0 ? 'client → server' : 'server → client'}  (frame ${d.frame}, ${formatTime(d.tsSec, d.tsNsec)}) ===`);
      last = d.dir;
    }
    out.line(printed(d.bytes));
  }
}

/** A delivery as lines: non-printable bytes as '.', without its last line feed (out.line adds one). */
function printed(b: Uint8Array): string {
  const s = printable(b, '.');
  return s.endsWith('\n') ? s.slice(0, -1) : s;
}
