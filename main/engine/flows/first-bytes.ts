/**
 * The first bytes of each direction of a connection, kept (copied) for protocol detection: up
 * to FIRST_BYTES per direction, gathered across deliveries so a tiny first segment does not
 * decide alone. One buffer of FIRST_BYTES per direction, made on the first delivery; the owner
 * drops the whole object once detection has decided.
 */
import { detectProtocol, PLUGINS, type ProtocolPlugin } from '../protocols';

export const FIRST_BYTES = 64;
/** Bytes in one direction before detection is worth trying. */
export const DETECT_BYTES = 16;

const NONE = new Uint8Array(0);

export class FirstBytes {
  /** Direction 0's bytes at [0, FIRST_BYTES), direction 1's at [FIRST_BYTES, 2 × FIRST_BYTES). */
  private buf: Uint8Array | null = null;
  private len0 = 0;
  private len1 = 0;

  /** Takes what it still wants of one delivered piece (copied byte by byte: at most 64, no view made). */
  piece(dir: 0 | 1, buf: Uint8Array, off: number, len: number): void {
    const have = dir === 0 ? this.len0 : this.len1;
    const n = Math.min(FIRST_BYTES - have, len);
    if (n <= 0) return;
    const b = (this.buf ??= new Uint8Array(2 * FIRST_BYTES));
    const at = dir * FIRST_BYTES + have;
    for (let i = 0; i < n; i++) b[at + i] = buf[off + i];
    if (dir === 0) this.len0 = have + n;
    else this.len1 = have + n;
  }

  /** The bytes kept of each direction (views: valid until the next add). */
  get bytes(): [Uint8Array, Uint8Array] {
    const b = this.buf;
    if (b === null) return [NONE, NONE];
    return [b.subarray(0, this.len0), b.subarray(FIRST_BYTES, FIRST_BYTES + this.len1)];
  }

  /** Enough to try detection. */
  get ready(): boolean {
    return this.len0 >= DETECT_BYTES || this.len1 >= DETECT_BYTES;
  }

  /** Both directions hold all they will keep: a miss now is final. */
  get full(): boolean {
    return this.len0 >= FIRST_BYTES && this.len1 >= FIRST_BYTES;
  }

  /** Empties it for another connection (the buffer is kept). */
  reset(): void {
    this.len0 = 0;
    this.len1 = 0;
  }

  detect(plugins: readonly ProtocolPlugin[] = PLUGINS): ProtocolPlugin | null {
    return detectProtocol(this.bytes, plugins);
  }
}
