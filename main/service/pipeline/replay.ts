/**
 * A flow replayed under every overlap policy: its packets read again from the capture files and
 * fed, in capture order, to one assembler per policy (first, last and the eleven target-based
 * ones), so a user sees the bytes each target host would have seen — and, where the flow has
 * overlaps with different bytes, which ranges differ and how the policies split there.
 *
 * Only the flow's packets are assembled (its endpoints, either way round; with port reuse, the
 * connection whose first packet is nearest the flow's). Up to `maxBytes` of each direction are
 * kept for comparing; lengths and digests cover everything.
 */
import { createHash, type Hash } from 'node:crypto';
import { formatEndpoint, PacketDecoder, Transport } from '../../engine/decode';
import { Assembler, OVERLAP_POLICIES, StreamPool, type AssemblerContext, type CaptureInfo, type ConnectionState, type ScatterGather, type Stream } from '../../engine/reassembly';
import { readInputs } from './packet-pipeline';

export type { PolicyOutcome, PolicyDifference, PolicyReplay } from '../../ipc/contract';
import type { PolicyDifference, PolicyOutcome, PolicyReplay } from '../../ipc/contract';

/** Differing ranges listed at most, and bytes shown of each. */
const MAX_DIFFERENCES = 200;
const MAX_SHOWN = 256;

class Collect implements Stream {
  conn!: ConnectionState;
  readonly kept: [Uint8Array[], Uint8Array[]] = [[], []];
  readonly held = [0, 0];
  readonly length = [0, 0];
  readonly hash: [Hash, Hash] = [createHash('sha256'), createHash('sha256')];
  constructor(private readonly max: number) {}
  attach(c: ConnectionState): void {
    this.conn = c;
  }
  accept(): boolean {
    return true;
  }
  reassembledSG(sg: ScatterGather): void {
    const d = sg.info().dir;
    const [n] = sg.lengths();
    if (n === 0) return;
    const b = sg.fetch(n);
    this.hash[d].update(b);
    this.length[d] += n;
    const room = this.max - this.held[d];
    if (room > 0) {
      this.kept[d].push(b.slice(0, room));
      this.held[d] += Math.min(room, n);
    }
  }
  reassemblyComplete(): boolean {
    return true;
  }
  bytes(d: 0 | 1): Uint8Array {
    return Buffer.concat(this.kept[d]);
  }
}

/** Replays the flow between `client` and `server` (as weft flows names them) that began nearest `firstSeen`. */
export async function replayPolicies(files: string[], client: string, server: string, firstSeen: number, maxBytes = 1 << 20): Promise<PolicyReplay> {
  const streams = OVERLAP_POLICIES.map(() => [] as Collect[]);
  const asms = OVERLAP_POLICIES.map((policy, i) => new Assembler(new StreamPool({ new: () => { const c = new Collect(maxBytes); streams[i].push(c); return c; } }), { overlapPolicy: policy }));
  const decoder = new PacketDecoder();
  const ci: CaptureInfo = { tsSec: 0, tsNsec: 0, frame: 0, capLen: 0, origLen: 0 };
  const ctx: AssemblerContext = { captureInfo: () => ci };
  const ports = new Set([Number(client.slice(client.lastIndexOf(':') + 1)), Number(server.slice(server.lastIndexOf(':') + 1))]);
  await readInputs(files, {
    packet(p) {
      const d = decoder.decode(p);
      if (d.transport !== Transport.TCP || !ports.has(d.tcp.srcPort) || !ports.has(d.tcp.dstPort)) return;
      const src = formatEndpoint(d.ipVersion, d.src, d.tcp.srcPort);
      const dst = formatEndpoint(d.ipVersion, d.dst, d.tcp.dstPort);
      if (!((src === client && dst === server) || (src === server && dst === client))) return;
      ci.tsSec = p.tsSec;
      ci.tsNsec = p.tsNsec;
      ci.frame = p.frame;
      ci.capLen = p.capLen;
      ci.origLen = p.origLen;
      for (const a of asms) a.assemble(d, d, ctx);
    },
  });
  for (const a of asms) a.flushAll();
  // each policy's connection: the one that began nearest the flow
  const chosen = streams.map((list) => {
    let best: Collect | null = null;
    for (const c of list) {
      const t = c.conn.firstSec + c.conn.firstNsec / 1e9;
      if (!best || Math.abs(t - firstSeen) < Math.abs(best.conn.firstSec + best.conn.firstNsec / 1e9 - firstSeen)) best = c;
    }
    return best;
  });
  if (chosen.some((c) => c === null)) throw new Error(`no connection ${client} → ${server} in ${files.join(', ')}`);
  const got = chosen as Collect[];
  const digests = got.map((c) => [c.hash[0].digest('hex'), c.hash[1].digest('hex')]);
  const outcomes: PolicyOutcome[] = [];
  got.forEach((c, i) => {
    const same = outcomes.find((o) => o.c2s.sha256 === digests[i][0] && o.s2c.sha256 === digests[i][1]);
    if (same) same.policies.push(OVERLAP_POLICIES[i]);
    else outcomes.push({ policies: [OVERLAP_POLICIES[i]], c2s: { length: c.length[0], sha256: digests[i][0] }, s2c: { length: c.length[1], sha256: digests[i][1] } });
  });
  const differences: PolicyDifference[] = [];
  for (const d of [0, 1] as const) {
    const bytes = got.map((c) => c.bytes(d));
    const n = Math.max(...bytes.map((b) => b.length));
    let at = -1;
    const close = (end: number) => {
      if (at < 0) return;
      if (differences.length < MAX_DIFFERENCES) {
        const versions: PolicyDifference['versions'] = [];
        bytes.forEach((b, i) => {
          const slice = [...b.subarray(at, Math.min(end, at + MAX_SHOWN))];
          const v = versions.find((x) => x.bytes.length === slice.length && x.bytes.every((y, k) => y === slice[k]));
          if (v) v.policies.push(OVERLAP_POLICIES[i]);
          else versions.push({ policies: [OVERLAP_POLICIES[i]], bytes: slice });
        });
        const b0 = bytes[0];
        differences.push({ dir: d === 0 ? 'c2s' : 's2c', offset: at, length: end - at, versions, before: [...b0.subarray(Math.max(0, at - 16), at)], after: [...b0.subarray(end, end + 16)] });
      }
      at = -1;
    };
    for (let i = 0; i < n; i++) {
      const x = bytes[0][i];
      const differs = bytes.some((b) => b[i] !== x);
      if (differs && at < 0) at = i;
      else if (!differs) close(i);
    }
    close(n);
  }
  return { outcomes, differences, compared: { c2s: Math.max(...got.map((c) => c.held[0])), s2c: Math.max(...got.map((c) => c.held[1])) } };
}
