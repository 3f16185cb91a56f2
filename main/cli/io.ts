/**
 * Output for CLI commands: buffered writes that respect back-pressure, and a quiet exit when the
 * reader of a pipe goes away (`weft packets big.pcap | head`).
 */
import type { Writable } from 'node:stream';

export interface CliIO {
  stdout: Writable;
  stderr: Writable;
}

/** Output is gathered in buffers of this size and handed to the stream when one is full. */
const BUFFER = 4 << 20;

export class BufferedOut {
  /**
   * Lines are encoded straight into a byte buffer and handed to the stream when it is full or at
   * flush: no array of strings joined into a second copy, which was a measurable part of
   * `weft flows --json` on captures of many small connections. A buffer given to the stream is
   * written again only once the stream says it is done with it (its write callback); those come
   * back for reuse, so a burst of output (a SYN flood's connections all closing at the table's
   * limit) does not leave a trail of buffers for the garbage collector.
   */
  private buf: Buffer = Buffer.allocUnsafe(BUFFER);
  private used = 0;
  private readonly free: Buffer[] = [];
  /** Bytes handed to the stream whose write has not completed. */
  private inFlight = 0;
  closed = false;

  constructor(private readonly stream: Writable) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') this.closed = true;
      else throw e;
    });
  }

  /**
   * Appends `s` and a newline. `ascii` says the caller knows `s` is ASCII (flows' JSON, which
   * holds no text from the capture): it is then copied as bytes, without UTF-8 encoding.
   */
  line(s: string, ascii = false): void {
    if (this.closed) return;
    this.room(ascii ? s.length + 1 : s.length * 3 + 1); // bytes at most
    this.used += this.buf.write(s, this.used, ascii ? 'latin1' : 'utf8');
    this.buf[this.used++] = 10;
  }

  /** Appends `prefix` (ASCII), the bytes b[start, end) as they are, and a newline. */
  lineOf(prefix: string, b: Uint8Array, start: number, end: number): void {
    if (this.closed) return;
    this.room(prefix.length + (end - start) + 1);
    this.used += this.buf.write(prefix, this.used, 'latin1');
    this.buf.set(b.subarray(start, end), this.used);
    this.used += end - start;
    this.buf[this.used++] = 10;
  }

  /** Room for a line of at most `most` bytes: what is buffered goes to the stream first if needed. */
  private room(most: number): void {
    if (this.used + most <= this.buf.length) return;
    this.hand();
    if (most > this.buf.length) this.buf = Buffer.allocUnsafe(most); // one very long line
  }

  /** Gives what is buffered to the stream and continues in a free buffer. */
  private hand(): boolean {
    if (this.used === 0) return true;
    const b = this.buf;
    const n = this.used;
    this.buf = this.free.pop() ?? Buffer.allocUnsafe(BUFFER);
    this.used = 0;
    this.inFlight += n;
    return this.stream.write(b.subarray(0, n), () => {
      this.inFlight -= n;
      if (b.length === BUFFER && this.free.length < 4) this.free.push(b);
    });
  }

  /** Bytes waiting to be written (held here or in the stream). */
  get pending(): number {
    return this.used + this.inFlight;
  }

  /** Writes what is buffered; waits for 'drain' if the stream asks for it. */
  async flush(): Promise<void> {
    if (this.closed) return;
    if (this.used === 0 && this.inFlight === 0) return;
    if (!this.hand() || this.stream.writableNeedDrain) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.stream.off('drain', done);
          this.stream.off('close', done);
          resolve();
        };
        this.stream.on('drain', done);
        this.stream.on('close', done);
      });
    }
  }
}

export class UsageError extends Error {}
