/**
 * Push-based framing shared by the pcap and pcapng readers.
 *
 *   chunk k                         chunk k+1
 *   ┌──────────┬──────────┬────────┐┌─────┬──────────┬───
 *   │ record 1 │ record 2 │ rec 3 ……… 3   │ record 4 │ …
 *   └──────────┴──────────┴────────┘└─────┴──────────┴───
 *     views into chunk k     └─ copied ─┘   views into chunk k+1
 *
 * Records that lie wholly inside a chunk are handed to `handle` as (chunk, offset, length): no
 * copy. Only a record split across chunks is assembled in a scratch buffer, which grows to the
 * largest split record seen and is reused. `frameLength` must bound every length it returns
 * (readers reject absurd lengths before anything is buffered), so memory stays bounded on
 * hostile input.
 */
import { CaptureFormatError } from './errors';

export abstract class ChunkedRecordReader {
  /** Absolute offset in the input of the first byte not yet consumed. */
  protected consumed = 0;
  private scratch = new Uint8Array(256);
  private scratchLen = 0;
  private ended = false;
  private failed: CaptureFormatError | null = null;

  /**
   * Length of the record starting at buf[off] when `avail` bytes are present:
   * a positive total length, or -(bytes needed before the length can be known).
   * Throws CaptureFormatError for lengths that cannot be right.
   */
  protected abstract frameLength(buf: Uint8Array, off: number, avail: number): number;

  /** Consume one whole record buf[off, off+len). `this.consumed` is its absolute offset. */
  protected abstract handle(buf: Uint8Array, off: number, len: number): void;

  /** Describes a record cut short by the end of input. */
  protected abstract truncatedMessage(have: number, need: number): string;

  /** Total bytes pushed and consumed so far (the offset of the next record). */
  get bytesConsumed(): number {
    return this.consumed + this.scratchLen;
  }

  /**
   * Feed the next chunk. Delivers every complete record; keeps a split tail for the next call.
   * Throws CaptureFormatError at damage (after delivering every record before it); the reader
   * then refuses further input.
   */
  push(chunk: Uint8Array): void {
    if (this.failed) throw this.failed;
    if (this.ended) throw new Error('push() after end()');
    try {
      this.pushInner(chunk);
    } catch (e) {
      if (e instanceof CaptureFormatError) this.failed = e;
      throw e;
    }
  }

  private pushInner(chunk: Uint8Array): void {
    let pos = 0;
    const n = chunk.length;
    // Finish a record split across the previous chunk(s) first.
    while (this.scratchLen > 0) {
      const len = this.frameLength(this.scratch, 0, this.scratchLen);
      const target = len > 0 ? len : -len;
      const take = Math.min(target - this.scratchLen, n - pos);
      this.appendScratch(chunk, pos, take);
      pos += take;
      if (this.scratchLen < target) return;
      if (len > 0) {
        this.scratchLen = 0;
        this.handle(this.scratch, 0, len);
        this.consumed += len;
      }
    }
    pos = this.scan(chunk, pos, n);
    if (pos < n) this.appendScratch(chunk, pos, n - pos);
  }

  /**
   * Handles every whole record in buf[pos, n) and returns the offset of the first incomplete one
   * (n if none). Readers may override it with a specialised loop for their common case; it must
   * keep `consumed` equal to the absolute offset of the record being handled.
   */
  protected scan(buf: Uint8Array, pos: number, n: number): number {
    while (pos < n) {
      const len = this.frameLength(buf, pos, n - pos);
      if (len < 0 || pos + len > n) return pos;
      this.handle(buf, pos, len);
      this.consumed += len;
      pos += len;
    }
    return pos;
  }

  /**
   * Signal end of input. Throws a 'truncated' CaptureFormatError if the input ended inside a
   * record (every complete record has been delivered by then).
   */
  end(): void {
    if (this.failed) throw this.failed;
    if (this.ended) return;
    this.ended = true;
    this.finish(this.scratchLen);
  }

  /** Subclasses may override to check the state at end of input (e.g. an empty file). */
  protected finish(leftover: number): void {
    if (leftover > 0) {
      const len = this.frameLength(this.scratch, 0, leftover);
      const need = len > 0 ? len : -len;
      this.fail(new CaptureFormatError('truncated', this.consumed, this.truncatedMessage(leftover, need)));
    }
  }

  protected fail(e: CaptureFormatError): never {
    this.failed = e;
    throw e;
  }

  private appendScratch(src: Uint8Array, from: number, count: number): void {
    const need = this.scratchLen + count;
    if (need > this.scratch.length) {
      let size = this.scratch.length * 2;
      while (size < need) size *= 2;
      const bigger = new Uint8Array(size);
      bigger.set(this.scratch.subarray(0, this.scratchLen));
      this.scratch = bigger;
    }
    this.scratch.set(src.subarray(from, from + count), this.scratchLen);
    this.scratchLen = need;
  }
}
