/**
 * A flow's protocol messages for the app's protocol tab, parsed again from the spool on each
 * request (a live flow keeps growing; nothing is held per flow between requests). Both
 * directions are replayed in capture order — pieces ordered by capture time, then frame — with
 * the gaps fed where they sit, so pairing and resynchronisation work as in `weft messages`.
 * Offsets are the spool's (delivered bytes), so a message's range is the stream view's range.
 */
import { pluginByName } from '../../engine/protocols';
import { lastAtOrBefore } from '../../engine/util/search';
import type { FlowMessage, FlowMessages } from '../../ipc/contract';
import { finishFields, jsonSafe, PARSER_HOST } from '../pipeline/message-content';
import type { Provenance, Spool } from './spool';

/** Parse at most this much of each direction, and return at most this many messages. */
const MESSAGE_LIMITS = { bytes: 64 * 1024 * 1024, messages: 20_000 };

interface Piece extends Provenance {
  dir: 0 | 1;
  bytes: Uint8Array;
}

export function flowMessages(
  spool: Spool,
  id: number,
  protocol: string | null,
  gapsOf: (dir: 0 | 1) => { offset: number; length: number }[],
  limits = MESSAGE_LIMITS,
): FlowMessages {
  const plugin = protocol ? pluginByName(protocol) : undefined;
  if (!plugin) return { id, protocol, messages: [], stopped: [null, null], truncated: false };
  const reads = ([0, 1] as const).map((dir) => spool.read(id, dir, 0, limits.bytes));
  let truncated = reads.some((r) => r.length > limits.bytes);
  const pieces: Piece[] = [];
  for (const dir of [0, 1] as const) {
    const r = reads[dir];
    for (const p of r.provenance) pieces.push({ ...p, dir, bytes: r.bytes.subarray(p.offset, p.offset + p.length) });
  }
  pieces.sort((a, b) => a.tsSec - b.tsSec || a.tsNsec - b.tsNsec || a.frame - b.frame || a.dir - b.dir);

  const parsers = plugin.parsers(PARSER_HOST);
  const gaps = ([0, 1] as const).map((dir) => gapsOf(dir).slice().sort((a, b) => a.offset - b.offset));
  const nextGap = [0, 0];
  const out: FlowMessage[] = [];
  const where = (dir: 0 | 1, offset: number): Provenance => {
    const prov = reads[dir].provenance;
    return prov[lastAtOrBefore(prov.length, (i) => prov[i].offset, offset)] ?? { offset: 0, length: 0, frame: 0, tsSec: 0, tsNsec: 0 };
  };
  const take = (ms: ReturnType<(typeof parsers)[0]['push']>) => {
    for (const m of ms) {
      if (out.length >= limits.messages) {
        truncated = true;
        return;
      }
      const at = where(m.dir, m.start);
      out.push({ dir: m.dir, kind: m.kind, start: m.start, end: m.end, summary: m.summary, fields: jsonSafe(finishFields(plugin.name, m.fields)), frame: at.frame, tsSec: at.tsSec, tsNsec: at.tsNsec });
    }
  };
  for (const p of pieces) {
    const g = gaps[p.dir];
    while (nextGap[p.dir] < g.length && g[nextGap[p.dir]].offset <= p.offset) {
      const len = g[nextGap[p.dir]++].length;
      parsers[p.dir].gap(len < 0 ? Infinity : len);
    }
    take(parsers[p.dir].push(p.bytes, p.offset));
    if (out.length >= limits.messages) break;
  }
  for (const ps of parsers) take(ps.end());
  return { id, protocol, messages: out, stopped: [parsers[0].stopped, parsers[1].stopped], truncated };
}
