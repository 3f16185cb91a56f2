/**
 * Output for CLI commands: buffered writes that respect back-pressure, and a quiet exit when the
 * reader of a pipe goes away (`weft packets big.pcap | head`).
 */
import type { Writable } from 'node:stream';

export interface CliIO {
  stdout: Writable;
  stderr: Writable;
}

export class BufferedOut {
  /**
   * Lines are encoded straight into a byte buffer (grown when a burst outruns the flushes) and
   * handed to the stream whole at flush: no array of strings joined into a second copy, which was
   * a measurable part of `weft flows --json` on captures of many small connections. A buffer given
   * to the stream is never written again (the stream may still be sending it).
   */
  private buf = Buffer.allocUnsafe(1 << 20);
  private used = 0;
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
    const most = ascii ? s.length + 1 : s.length * 3 + 1; // bytes at most
    if (this.used + most > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + most));
      this.buf.copy(bigger, 0, 0, this.used);
      this.buf = bigger;
    }
    this.used += this.buf.write(s, this.used, ascii ? 'latin1' : 'utf8');
    this.buf[this.used++] = 10;
  }

  /** Bytes waiting to be written. */
  get pending(): number {
    return this.used;
  }

  /** Writes what is buffered; waits for 'drain' if the stream asks for it. */
  async flush(): Promise<void> {
    if (this.used === 0 || this.closed) return;
    const out = this.buf.subarray(0, this.used);
    this.buf = Buffer.allocUnsafe(Math.max(1 << 20, Math.min(this.buf.length, 16 << 20)));
    this.used = 0;
    if (!this.stream.write(out)) {
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
