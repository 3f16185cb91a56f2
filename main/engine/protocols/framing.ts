/**
 * Length-prefixed frames (MySQL packets, MongoDB messages) cut anywhere by the transport.
 *
 * A frame lying whole inside one push is handed over as a view of the pushed bytes (no copy);
 * only a frame split across pushes is gathered, and then only its first `keep` bytes — the rest
 * is counted, so a 16 MB packet costs `keep` bytes of memory. A gap inside a frame's payload
 * keeps the framing (the frame is flagged `damaged` if the hole falls in the kept part); a gap
 * anywhere else, or a header the protocol calls impossible, loses it: the framer then waits for a
 * push that starts with a header the protocol accepts as a resume point (transport segments start
 * at message boundaries far more often than not), counting what it drops as garbage.
 */
import { appendBytes } from './bytes';

export interface FramingRules {
  /** Bytes of header needed to know a frame's length. */
  headerLength: number;
  /** Total frame length (header included) from its header, or -1 if the header is impossible. */
  frameLength(header: Uint8Array): number;
  /** After framing was lost: may a frame start at `bytes[0]`? Stricter than `frameLength`. */
  resumesAt(bytes: Uint8Array): boolean;
  /** Bytes of each frame kept (header included); the rest is counted. */
  keep: number;
}

/**
 * Receives a frame: `frame` is its first min(total, keep) bytes (a view valid during the call),
 * `start` its stream offset, `total` its full length; `damaged` when a gap fell in the kept part.
 */
export type FrameSink = (frame: Uint8Array, start: number, total: number, damaged: boolean) => void;

export class Framer {
  private buf: Uint8Array<ArrayBuffer> = new Uint8Array(64);
  private have = 0; // bytes gathered in buf
  private seen = 0; // bytes of the current frame consumed (gathered, counted or lost)
  private total = -1; // the current frame's length, once its header is complete
  private start = 0;
  private damaged = false;
  /** Framing lost: waiting for a push that starts at a resume point. */
  lost = false;
  /** Bytes dropped while framing was lost or after impossible headers. */
  garbage = 0;

  constructor(private readonly rules: FramingRules) {}

  push(b: Uint8Array, at: number, sink: FrameSink): void {
    const { headerLength: H, keep } = this.rules;
    let i = 0;
    this.flush(sink);
    if (this.lost) {
      if (b.length < H || !this.rules.resumesAt(b)) {
        this.garbage += b.length;
        return;
      }
      this.lost = false;
    }
    while (i < b.length && !this.lost) {
      if (this.total < 0) {
        if (this.have === 0) {
          this.start = at + i;
          if (b.length - i >= H) {
            const total = this.rules.frameLength(b.subarray(i, i + H));
            if (total < H) {
              this.lose(b.length - i);
              return;
            }
            if (b.length - i >= total) {
              sink(b.subarray(i, i + Math.min(total, keep)), at + i, total, false);
              i += total;
              continue;
            }
          }
        }
        const n = Math.min(H - this.have, b.length - i);
        this.buf = appendBytes(this.buf, this.have, b, i, n);
        this.have += n;
        this.seen = this.have;
        i += n;
        if (this.have < H) return;
        this.total = this.rules.frameLength(this.buf.subarray(0, H));
        if (this.total < H) {
          this.lose(b.length - i + H);
          return;
        }
      }
      const n = Math.min(this.total - this.seen, b.length - i);
      const kept = Math.max(0, Math.min(n, keep - this.have));
      if (kept > 0) this.buf = appendBytes(this.buf, this.have, b, i, kept);
      this.have += kept;
      this.seen += n;
      i += n;
      if (this.seen === this.total) this.emit(sink);
    }
  }

  /** `length` bytes were lost. */
  gap(length: number): void {
    if (this.lost || length <= 0) return;
    if (this.total >= 0 && length <= this.total - this.seen) {
      if (this.seen < Math.min(this.total, this.rules.keep)) this.damaged = true;
      this.seen += length;
      return; // a frame the hole completes is delivered by the next push or flush
    }
    this.lose(0);
  }

  /** Delivers a frame that a gap completed (push does this itself; call it at the end). */
  flush(sink: FrameSink): void {
    if (this.total >= 0 && this.seen === this.total) this.emit(sink);
  }

  private emit(sink: FrameSink): void {
    const { start, total, damaged } = this;
    const frame = this.buf.subarray(0, this.have);
    this.reset();
    sink(frame, start, total, damaged);
  }

  private reset(): void {
    this.have = 0;
    this.seen = 0;
    this.total = -1;
    this.damaged = false;
  }

  private lose(dropped: number): void {
    this.garbage += dropped;
    this.reset();
    this.lost = true;
  }
}
