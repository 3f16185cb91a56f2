import { compileFilter } from '../service/pipeline/flow-query';
import { JsonOffload } from '../service/pipeline/json-offload';
import { runFlows, type Delivery, type Flow } from '../service/pipeline/flow-recorder';
import type { UdpFlow } from '../engine/flows';
import type { OverlapPolicy } from '../engine/reassembly';
import type { PolicyFor } from '../service/pipeline/host-policy';
import { replayPolicies, type PolicyReplay } from '../service/pipeline/replay';
import { formatTime, humanBytes } from './format';
import { UsageError, type BufferedOut } from './io';
import { printable } from '../engine/util/printable';

export interface FlowsArgs {
  files: string[];
  json: boolean;
  policy: OverlapPolicy;
  /** Per-host policies (--host-policy), or null. */
  policyFor?: PolicyFor | null;
  idleSec: number;
  follow?: number;
  /** With follow: replay the connection under every overlap policy and print how they differ. */
  comparePolicies?: boolean;
  maxConnections?: number;
  /** Only the flows this filter keeps (the app's filter language). */
  filter?: string;
}

/**
 * `weft flows FILE… [--json] [--policy P] [--idle S] [--follow N]`. Flows are printed as
 * they complete (so output starts before a large file is read). Returns the number of damaged files.
 */
export async function flowsCommand(a: FlowsArgs, out: BufferedOut, err: BufferedOut): Promise<number> {
  const table = !a.json && a.follow === undefined;
  if (table) out.line(header());
  // JSON: hashed and written to standard output by a second thread, in order (json-offload.ts)
  const offload = a.json && a.follow === undefined ? new JsonOffload(out.fd) : null;
  const r = await runFlows(
    a.files,
    offload
      ? { batch: (f) => offload.add(f) }
      : (f) => {
          if (a.follow !== undefined) return;
          out.line(row(f));
        },
    {
      idleSec: a.idleSec,
      // UDP conversations beside the connections (not with --follow, which shows one TCP stream)
      udp: a.follow !== undefined ? undefined : offload ? (u) => offload.addLine(JSON.stringify(u)) : a.json ? (u) => out.line(JSON.stringify(u)) : (u) => out.line(udpRow(u)),
      assembler: { overlapPolicy: a.policy, policyFor: a.policyFor ?? null, maxConnections: a.maxConnections },
      follow: a.follow,
      filter: a.filter ? filterOf(a.filter) : undefined,
      read: {
        afterChunk: () => (out.pending > 1 << 16 ? out.flush() : undefined),
      },
    },
  ).finally(() => offload?.close());
  for (const e of r.errors) err.line(`weft: warning: ${e.message}`);
  if (a.follow !== undefined) {
    const f = r.followed;
    if (!f?.record) {
      err.line(`weft: no connection ${a.follow} (the capture has ${r.flows})`);
      return r.errors.length + 1;
    }
    if (a.comparePolicies) printPolicies(f.record, await replayPolicies(a.files, f.record.client, f.record.server, f.record.firstSeen), out, a.json);
    else printFollow(f.record, f.deliveries, out);
  } else if (table) {
    const udp = r.udpConversations === 0 ? '' : `, ${a.filter ? `${r.udpKept} of ` : ''}${r.udpConversations} UDP conversation${r.udpConversations === 1 ? '' : 's'}`;
    out.line(`${a.filter ? `${r.kept} of ` : ''}${r.flows} connection${r.flows === 1 ? '' : 's'}${udp}${a.filter ? ' shown' : ''}, ${r.tcpPackets} TCP packets of ${r.packets}`);
  }
  return r.errors.length;
}

/** The filter, or a usage error that says what is wrong with it. */
function filterOf(expr: string) {
  try {
    return compileFilter(expr);
  } catch (e) {
    throw new UsageError(`--filter: ${(e as Error).message}`);
  }
}

export function header(): string {
  return ['#'.padStart(5), 'client'.padEnd(28), 'server'.padEnd(28), 'proto'.padEnd(6), 'packets'.padStart(11), 'bytes c2s'.padStart(10), 'bytes s2c'.padStart(10), 'gaps'.padStart(7), 'close'.padEnd(12), 'anomalies'].join(' ');
}

/** A UDP conversation as a table row: the TCP columns, with "udp" for the state's column's neighbours. */
function udpRow(u: UdpFlow): string {
  return [
    String(u.id).padStart(5),
    u.client.padEnd(28),
    u.server.padEnd(28),
    (u.protocol ?? 'udp').padEnd(6),
    `${u.packets.c2s}/${u.packets.s2c}`.padStart(11),
    String(u.bytes.c2s).padStart(10),
    String(u.bytes.s2c).padStart(10),
    '-'.padStart(7),
    `udp ${u.close}`.padEnd(12),
  ].join(' ');
}

export function row(f: Flow): string {
  const an = Object.entries(f.anomalies)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return [
    String(f.id).padStart(5),
    (f.client + (f.directionInferred ? '?' : '')).padEnd(28),
    f.server.padEnd(28),
    (f.protocol ?? '-').padEnd(6),
    `${f.packets.c2s}/${f.packets.s2c}`.padStart(11),
    String(f.bytes.c2s).padStart(10),
    String(f.bytes.s2c).padStart(10),
    String(f.gaps.c2s + f.gaps.s2c).padStart(7),
    f.close.padEnd(12),
    an || '-',
  ].join(' ');
}

/** Follow Stream: both directions in delivery order, turns marked, gaps as notes (not data). */
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
