/** Drives one direction of a protocol plugin's parsers with chunk sizes chosen by the test. */
import type { DirectionParser, ProtocolMessage } from '../../main/engine/protocols';

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
