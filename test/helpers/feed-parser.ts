/** Drives one direction of a protocol plugin's parsers with chunk sizes chosen by the test. */
import { readFileSync } from 'node:fs';
import { PacketDecoder, Transport } from '../../main/engine/decode';
import { CaptureReader } from '../../main/engine/formats';
import type { DirectionParser, ProtocolMessage, ProtocolPlugin } from '../../main/engine/protocols';
import { Assembler, StreamPool, type ScatterGather } from '../../main/engine/reassembly';
import { runMessages, type MessageRecord } from '../../main/service/pipeline/messages';
import { mutate, rng } from './fuzz';

/**
 * Pushes `data` into `parsers[dir]` in chunks of `sizes(k)` bytes (at least 1) at their stream
 * offsets, then ends the direction; returns every message produced.
 */
export function feedParser(parsers: DirectionParser[], dir: 0 | 1, data: Uint8Array, sizes: (k: number) => number): ProtocolMessage[] {
  const p = parsers[dir];
  const out: ProtocolMessage[] = [];
  let pos = 0;
  for (let k = 0; pos < data.length; k++) {
    const n = Math.max(1, sizes(k));
    out.push(...p.push(data.subarray(pos, pos + n), pos));
    pos += n;
  }
  out.push(...p.end());
  return out;
}

/**
 * Reassembles a capture and feeds every connection's directions to `plugin`'s parsers, gaps
 * included; also gives each direction's bytes and each connection's pieces in capture order.
 */
export function parsePluginCapture(
  plugin: ProtocolPlugin,
  path: string,
): { messages: ProtocolMessage[]; streams: [Uint8Array, Uint8Array][]; conversations: [0 | 1, Uint8Array][][] } {
  const messages: ProtocolMessage[] = [];
  const streams: [Uint8Array, Uint8Array][] = [];
  const conversations: [0 | 1, Uint8Array][][] = [];
  const pool = new StreamPool({
    new: () => {
      const ps = plugin.parsers();
      const off = [0, 0];
      const bytes: Uint8Array[][] = [[], []];
      const turns: [0 | 1, Uint8Array][] = [];
      return {
        accept: () => true,
        reassembledSG(sg: ScatterGather) {
          const i = sg.info();
          const [n] = sg.lengths();
          if (i.skip !== 0) ps[i.dir].gap(i.skip < 0 ? Infinity : i.skip); // offsets count delivered bytes, as weft messages does
          const b = sg.fetch(n).slice();
          bytes[i.dir].push(b);
          turns.push([i.dir, b]);
          messages.push(...ps[i.dir].push(b, off[i.dir]));
          off[i.dir] += n;
        },
        reassemblyComplete: () => {
          for (const p of ps) messages.push(...p.end());
          streams.push([Buffer.concat(bytes[0]), Buffer.concat(bytes[1])]);
          conversations.push(turns);
          return true;
        },
      };
    },
  });
  const asm = new Assembler(pool);
  const dec = new PacketDecoder();
  const ci = { tsSec: 0, tsNsec: 0, frame: 0, capLen: 0, origLen: 0 };
  const r = new CaptureReader({
    packet(p) {
      const d = dec.decode(p);
      if (d.transport !== Transport.TCP) return;
      ci.tsSec = p.tsSec;
      asm.assemble(d, d, { captureInfo: () => ci });
    },
  });
  r.push(new Uint8Array(readFileSync(path)));
  r.end();
  asm.flushAll();
  return { messages, streams, conversations };
}

/**
 * Feeds `runs` mutated copies of the corpus streams to fresh parsers, in random chunks with random
 * gaps, alternating directions; returns how many messages came out. Throws if a parser throws.
 */
export function fuzzPlugin(plugin: ProtocolPlugin, corpus: Uint8Array[], runs: number, seed: number): number {
  const r = rng(seed);
  let messages = 0;
  for (let i = 0; i < runs; i++) {
    const data = mutate(new Uint8Array(corpus[Math.floor(r() * corpus.length)]), r);
    const ps = plugin.parsers();
    const dir = (i & 1) as 0 | 1;
    let pos = 0;
    while (pos < data.length) {
      const n = 1 + Math.floor(r() * r() * 2000);
      if (r() < 0.05) ps[dir].gap(Math.floor(r() * 500));
      messages += ps[dir].push(data.subarray(pos, pos + n), pos).length;
      pos += n;
    }
    messages += ps[dir].end().length;
  }
  return messages;
}

/**
 * Feeds a conversation — turns of [direction, bytes] in the order they were sent — to one pair of
 * parsers, each turn cut in pieces of `sizes(k)` bytes; ends both directions; returns the messages.
 */
export function feedConversation(plugin: ProtocolPlugin, turns: [0 | 1, Uint8Array][], sizes: (k: number) => number = () => 1e9): ProtocolMessage[] {
  const ps = plugin.parsers();
  const off = [0, 0];
  const out: ProtocolMessage[] = [];
  let k = 0;
  for (const [dir, b] of turns) {
    for (let pos = 0; pos < b.length; k++) {
      const n = Math.max(1, sizes(k));
      out.push(...ps[dir].push(b.subarray(pos, pos + n), off[dir] + pos));
      pos += n;
    }
    off[dir] += b.length;
  }
  for (const p of ps) out.push(...p.end());
  return out;
}

/**
 * Feeds two conversations to two pairs of parsers in alternation (turn i of one, then turn i of
 * the other), each turn cut in pieces of `piece` bytes: returns each conversation's messages, to
 * compare with feeding each alone.
 */
export function feedInterleaved(plugin: ProtocolPlugin, a: [0 | 1, Uint8Array][], b: [0 | 1, Uint8Array][], piece = Infinity): [ProtocolMessage[], ProtocolMessage[]] {
  const cut = (t: [0 | 1, Uint8Array][]) =>
    piece === Infinity ? t : t.flatMap(([d, x]) => Array.from({ length: Math.ceil(x.length / piece) }, (_, i) => [d, x.subarray(i * piece, (i + 1) * piece)] as [0 | 1, Uint8Array]));
  const sides = [cut(a), cut(b)].map((turns) => ({ turns, ps: plugin.parsers(), off: [0, 0], out: [] as ProtocolMessage[] }));
  for (let i = 0; i < Math.max(sides[0].turns.length, sides[1].turns.length); i++)
    for (const s of sides) {
      const t = s.turns[i];
      if (!t) continue;
      s.out.push(...s.ps[t[0]].push(t[1], s.off[t[0]]));
      s.off[t[0]] += t[1].length;
    }
  for (const s of sides) for (const p of s.ps) s.out.push(...p.end());
  return [sides[0].out, sides[1].out];
}

/** Every message `weft messages` gives for a capture, with these plugins (and options). */
export async function captureMessages(path: string, plugins: readonly ProtocolPlugin[], options: Record<string, Record<string, number>> = {}): Promise<MessageRecord[]> {
  const out: MessageRecord[] = [];
  await runMessages([path], (m) => out.push(m), plugins, options);
  return out;
}
