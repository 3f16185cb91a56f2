/**
 * A file that appears whole or not at all: written to a temporary name beside the target, renamed
 * over it on commit, deleted on abort (or if the process fails before commit). Writes are
 * buffered and synchronous, so an exporter can stream gigabytes through a bounded buffer.
 */
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export class AtomicFile {
  private fd: number;
  private readonly tmp: string;
  private buf = Buffer.allocUnsafe(1 << 20);
  private len = 0;
  private done = false;
  /** Bytes written so far. */
  bytes = 0;

  constructor(readonly path: string) {
    this.tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.part`);
    this.fd = openSync(this.tmp, 'wx');
  }

  write(data: string | Uint8Array): void {
    const b = typeof data === 'string' ? Buffer.from(data) : data;
    this.bytes += b.length;
    if (this.len + b.length > this.buf.length) this.flush();
    if (b.length >= this.buf.length) {
      let w = 0;
      while (w < b.length) w += writeSync(this.fd, b, w, b.length - w);
      return;
    }
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  private flush(): void {
    let w = 0;
    while (w < this.len) w += writeSync(this.fd, this.buf, w, this.len - w);
    this.len = 0;
  }

  /** Makes the file appear under its name. */
  commit(): void {
    if (this.done) return;
    this.flush();
    closeSync(this.fd);
    renameSync(this.tmp, this.path);
    this.done = true;
  }

  /** Leaves nothing behind. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    try {
      closeSync(this.fd);
    } finally {
      rmSync(this.tmp, { force: true });
    }
  }
}
