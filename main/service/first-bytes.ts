/**
 * The first bytes of each direction of a connection, kept (copied) for protocol detection: up
 * to FIRST_BYTES per direction, gathered across deliveries so a tiny first segment does not
 * decide alone.
 */
import { detectProtocol, PLUGINS, type ProtocolPlugin } from '../engine/protocols';
import type { ScatterGather } from '../engine/reassembly';

export const FIRST_BYTES = 64;
/** Bytes in one direction before detection is worth trying. */
export const DETECT_BYTES = 16;

export class FirstBytes {
  readonly bytes: [Uint8Array, Uint8Array] = [new Uint8Array(0), new Uint8Array(0)];

  /** Takes what it still wants of a delivery of `length` bytes. */
  add(dir: 0 | 1, sg: ScatterGather, length: number): void {
    const have = this.bytes[dir];
    const n = Math.min(FIRST_BYTES - have.length, length);
    if (n <= 0) return;
    const more = new Uint8Array(have.length + n);
    more.set(have);
    more.set(sg.fetch(n).subarray(0, n), have.length);
    this.bytes[dir] = more;
  }

  /** Enough to try detection. */
  get ready(): boolean {
    return this.bytes[0].length >= DETECT_BYTES || this.bytes[1].length >= DETECT_BYTES;
  }

  /** Both directions hold all they will keep: a miss now is final. */
  get full(): boolean {
    return this.bytes[0].length >= FIRST_BYTES && this.bytes[1].length >= FIRST_BYTES;
  }

  detect(plugins: readonly ProtocolPlugin[] = PLUGINS): ProtocolPlugin | null {
    return detectProtocol(this.bytes, plugins);
  }
}
