/**
 * The session spool: every delivered byte of every connection, appended to ONE file in the
 * session folder, with a compact index per direction so any byte range can be read back with the
 * frame and capture time each byte came from (provenance). Streams are never held in memory.
 *
 *   spool.bin:  [conn 1 c2s piece][conn 2 s2c piece][conn 1 c2s piece] …   (append only)
 *   index (per direction, in memory): streamOffset → spoolOffset, length, frame, time
 *
 * Writes go through a 1 MiB buffer (flushed when full, and before any read that needs it).
 * Cost: about 28 bytes of index per delivered piece (one piece ≈ one packet).
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastAtOrBefore } from '../engine/util/search';

/** Growable columns of numbers (typed arrays, doubled when full). */
class Column {
  data: Float64Array;
  constructor(initial = 16) {
    this.data = new Float64Array(initial);
  }
  ensure(n: number): void {
    if (n <= this.data.length) return;
    let size = this.data.length * 2;
    while (size < n) size *= 2;
    const d = new Float64Array(size);
    d.set(this.data);
    this.data = d;
  }
}

export class DirectionIndex {
  count = 0;
  /** Delivered bytes so far (= stream offset of the next piece). */
  length = 0;
  private readonly streamOff = new Column();
  private readonly spoolOff = new Column();
  private readonly len = new Column();
  private readonly frame = new Column();
  private readonly tsSec = new Column();
  private readonly tsNsec = new Column();

  add(spoolOffset: number, len: number, frame: number, tsSec: number, tsNsec: number): void {
    const i = this.count++;
    for (const c of [this.streamOff, this.spoolOff, this.len, this.frame, this.tsSec, this.tsNsec]) c.ensure(this.count);
    this.streamOff.data[i] = this.length;
    this.spoolOff.data[i] = spoolOffset;
    this.len.data[i] = len;
    this.frame.data[i] = frame;
    this.tsSec.data[i] = tsSec;
    this.tsNsec.data[i] = tsNsec;
    this.length += len;
  }

  /** Index of the piece holding stream offset `off` (binary search). */
  find(off: number): number {
    return lastAtOrBefore(this.count, (i) => this.streamOff.data[i], off);
  }

  piece(i: number): { streamOffset: number; spoolOffset: number; length: number; frame: number; tsSec: number; tsNsec: number } {
    return {
      streamOffset: this.streamOff.data[i],
      spoolOffset: this.spoolOff.data[i],
      length: this.len.data[i],
      frame: this.frame.data[i],
      tsSec: this.tsSec.data[i],
      tsNsec: this.tsNsec.data[i],
    };
  }
}

/** Where bytes of a range came from: one entry per packet piece. */
export interface Provenance {
  /** Stream offset of the first byte of this run. */
  offset: number;
  length: number;
  frame: number;
  tsSec: number;
  tsNsec: number;
}

export class Spool {
  readonly dir: string;
  private readonly fd: number;
  private readonly buf = Buffer.allocUnsafe(1 << 20);
  private bufLen = 0;
  /** Bytes written to the file (the buffer follows). */
  private fileLen = 0;
  private readonly index = new Map<string, DirectionIndex>();
  private closed = false;

  constructor(parent = tmpdir()) {
    this.dir = mkdtempSync(join(parent, 'weft-session-'));
    this.fd = openSync(join(this.dir, 'spool.bin'), 'w+');
  }

  /** Total bytes spooled. */
  get size(): number {
    return this.fileLen + this.bufLen;
  }

  direction(conn: number, dir: 0 | 1): DirectionIndex {
    const k = `${conn}:${dir}`;
    let d = this.index.get(k);
    if (!d) {
      d = new DirectionIndex();
      this.index.set(k, d);
    }
    return d;
  }

  /** Appends bytes delivered to connection `conn`, direction `dir`, from packet `frame`. */
  append(conn: number, dir: 0 | 1, bytes: Uint8Array, off: number, len: number, frame: number, tsSec: number, tsNsec: number): void {
    const d = this.direction(conn, dir);
    d.add(this.size, len, frame, tsSec, tsNsec);
    while (len > 0) {
      const room = this.buf.length - this.bufLen;
      const take = Math.min(room, len);
      this.buf.set(bytes.subarray(off, off + take), this.bufLen);
      this.bufLen += take;
      off += take;
      len -= take;
      if (this.bufLen === this.buf.length) this.flush();
    }
  }

  flush(): void {
    if (this.bufLen === 0) return;
    let w = 0;
    while (w < this.bufLen) w += writeSync(this.fd, this.buf, w, this.bufLen - w, this.fileLen + w);
    this.fileLen += this.bufLen;
    this.bufLen = 0;
  }

  /** Delivered bytes [from, to) of a direction, with the provenance of each run. */
  read(conn: number, dir: 0 | 1, from: number, to: number): { bytes: Uint8Array; provenance: Provenance[]; length: number } {
    const d = this.index.get(`${conn}:${dir}`);
    if (!d || d.count === 0) return { bytes: new Uint8Array(0), provenance: [], length: 0 };
    const start = Math.max(0, Math.min(from, d.length));
    const end = Math.max(start, Math.min(to, d.length));
    const out = new Uint8Array(end - start);
    const provenance: Provenance[] = [];
    if (end > start) {
      this.flush();
      let i = d.find(start);
      let pos = start;
      while (pos < end && i < d.count) {
        const p = d.piece(i);
        const inPiece = pos - p.streamOffset;
        const n = Math.min(p.length - inPiece, end - pos);
        if (n > 0) {
          let r = 0;
          while (r < n) r += readSync(this.fd, out, pos - start + r, n - r, p.spoolOffset + inPiece + r);
          provenance.push({ offset: pos, length: n, frame: p.frame, tsSec: p.tsSec, tsNsec: p.tsNsec });
          pos += n;
        }
        i++;
      }
    }
    return { bytes: out, provenance, length: d.length };
  }

  /** Closes the file and deletes the session folder. */
  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
