/**
 * The session spool: every delivered byte of every connection, appended to ONE file in the
 * session folder, with a compact index so any byte range can be read back with the frame and
 * capture time each byte came from (provenance). Streams are never held in memory.
 *
 *   spool.bin:  [conn 1 c2s piece][conn 2 s2c piece][conn 1 c2s piece] …   (append only)
 *   pieces (one row per delivered piece, all directions, in the order they came):
 *       spool offset │ length │ frame │ seconds │ nanoseconds │ next piece of the same direction
 *   directions (one row per connection and direction, by connection id):
 *       first piece │ last piece │ pieces │ delivered bytes
 *
 * A capture of many small connections has few pieces per direction, so the index is typed-array
 * columns (about 28 bytes a piece and 24 a direction) and no object per connection or direction.
 * Reading a direction walks its chain once to build an array of its pieces with their stream
 * offsets (kept for the few directions read lately, and extended as the direction grows), then
 * finds the range by binary search.
 *
 * The bytes are written through an AppendFile (in the background; readable at once).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { grownTo } from '../../engine/util/bytes';
import { lastAtOrBefore } from '../../engine/util/search';
import { AppendFile } from './append-file';

/** A direction's pieces in stream order, built from its chain when the direction is read. */
interface PieceList {
  count: number;
  pieces: Int32Array;
  /** Stream offset of each piece. */
  offsets: Float64Array;
}

/** How many directions keep their piece lists between reads. */
const LISTS_KEPT = 16;

/** Where bytes of a range came from: one entry per packet piece. */
export interface Provenance {
  /** Stream offset of the first byte of this run. */
  offset: number;
  length: number;
  frame: number;
  tsSec: number;
  tsNsec: number;
}

/** A spool folder's name: this prefix, the engine process's id, a dash, random letters. */
export const SPOOL_PREFIX = 'weft-session-';

export class Spool {
  readonly dir: string;
  private readonly file: AppendFile;
  private closed = false;

  /** Pieces. */
  private pieceCount = 0;
  private spoolOff = new Float64Array(1024);
  private len = new Uint32Array(1024);
  private frame = new Uint32Array(1024);
  private sec = new Uint32Array(1024);
  private nsec = new Uint32Array(1024);
  private next = new Int32Array(1024);
  /** Directions, by (connection id − 1) × 2 + dir; first/last are piece + 1 (0: none yet). */
  private first = new Int32Array(1024);
  private last = new Int32Array(1024);
  private count = new Uint32Array(1024);
  private bytes = new Float64Array(1024);
  /** Piece lists of directions read lately (Map order: least recently read first). */
  private readonly lists = new Map<number, PieceList>();

  constructor(parent = tmpdir()) {
    // named by the process, so that whoever started it can remove what a crash left behind (ChildProcessHost)
    this.dir = mkdtempSync(join(parent, `${SPOOL_PREFIX}${process.pid}-`));
    this.file = new AppendFile(join(this.dir, 'spool.bin'));
  }

  /** Total bytes spooled. */
  get size(): number {
    return this.file.size;
  }

  /** Appends bytes delivered to connection `conn`, direction `dir`, from packet `frame`. */
  append(conn: number, dir: 0 | 1, bytes: Uint8Array, off: number, len: number, frame: number, tsSec: number, tsNsec: number): void {
    const i = this.pieceCount++;
    if (i === this.spoolOff.length) {
      const n = i + 1;
      this.spoolOff = grownTo(this.spoolOff, n);
      this.len = grownTo(this.len, n);
      this.frame = grownTo(this.frame, n);
      this.sec = grownTo(this.sec, n);
      this.nsec = grownTo(this.nsec, n);
      this.next = grownTo(this.next, n);
    }
    const k = (conn - 1) * 2 + dir;
    if (k >= this.first.length) {
      this.first = grownTo(this.first, k + 1);
      this.last = grownTo(this.last, k + 1);
      this.count = grownTo(this.count, k + 1);
      this.bytes = grownTo(this.bytes, k + 1);
    }
    this.spoolOff[i] = this.size;
    this.len[i] = len;
    this.frame[i] = frame;
    this.sec[i] = tsSec;
    this.nsec[i] = tsNsec;
    this.next[i] = -1;
    if (this.last[k] === 0) this.first[k] = i + 1;
    else this.next[this.last[k] - 1] = i;
    this.last[k] = i + 1;
    this.count[k]++;
    this.bytes[k] += len;
    this.file.append(bytes, off, len);
  }

  /** The pieces of direction k in stream order (built or extended from its chain). */
  private list(k: number): PieceList {
    let l = this.lists.get(k);
    const n = this.count[k];
    if (l) this.lists.delete(k);
    else l = { count: 0, pieces: new Int32Array(Math.max(4, n)), offsets: new Float64Array(Math.max(4, n)) };
    if (l.count < n) {
      if (l.pieces.length < n) {
        l.pieces = grownTo(l.pieces, n);
        l.offsets = grownTo(l.offsets, n);
      }
      let p = l.count === 0 ? this.first[k] - 1 : this.next[l.pieces[l.count - 1]];
      let off = l.count === 0 ? 0 : l.offsets[l.count - 1] + this.len[l.pieces[l.count - 1]];
      while (p >= 0 && l.count < n) {
        l.pieces[l.count] = p;
        l.offsets[l.count] = off;
        l.count++;
        off += this.len[p];
        p = this.next[p];
      }
    }
    this.lists.set(k, l);
    if (this.lists.size > LISTS_KEPT) this.lists.delete(this.lists.keys().next().value!);
    return l;
  }

  /**
   * A direction's pieces in stream order: `pieces[j]` is a piece number (pieces are numbered in
   * the order they were delivered, across all directions), `offsets[j]` its stream offset; its
   * length is pieceLength(pieces[j]). Valid until the next call.
   */
  piecesOf(conn: number, dir: 0 | 1): { count: number; pieces: Int32Array; offsets: Float64Array } {
    const k = (conn - 1) * 2 + dir;
    if (conn < 1 || k >= this.first.length || this.count[k] === 0) return { count: 0, pieces: new Int32Array(0), offsets: new Float64Array(0) };
    return this.list(k);
  }

  pieceLength(p: number): number {
    return this.len[p];
  }

  /** Delivered bytes in a direction. */
  lengthOf(conn: number, dir: 0 | 1): number {
    const k = (conn - 1) * 2 + dir;
    return conn < 1 || k >= this.first.length ? 0 : this.bytes[k];
  }

  /** Delivered bytes [from, to) of a direction, with the provenance of each run. */
  read(conn: number, dir: 0 | 1, from: number, to: number): { bytes: Uint8Array; provenance: Provenance[]; length: number } {
    const k = (conn - 1) * 2 + dir;
    if (conn < 1 || k >= this.first.length || this.count[k] === 0) return { bytes: new Uint8Array(0), provenance: [], length: 0 };
    const total = this.bytes[k];
    const start = Math.max(0, Math.min(from, total));
    const end = Math.max(start, Math.min(to, total));
    const out = new Uint8Array(end - start);
    const provenance: Provenance[] = [];
    if (end > start) {
      const l = this.list(k);
      let i = lastAtOrBefore(l.count, (j) => l.offsets[j], start);
      let pos = start;
      while (pos < end && i < l.count) {
        const p = l.pieces[i];
        const inPiece = pos - l.offsets[i];
        const n = Math.min(this.len[p] - inPiece, end - pos);
        if (n > 0) {
          this.file.readAt(out, pos - start, this.spoolOff[p] + inPiece, n);
          provenance.push({ offset: pos, length: n, frame: this.frame[p], tsSec: this.sec[p], tsNsec: this.nsec[p] });
          pos += n;
        }
        i++;
      }
    }
    return { bytes: out, provenance, length: total };
  }

  /**
   * The first occurrence of `pattern` in a direction at or after stream offset `from` (or, `back`,
   * the last one that starts before `from`), with the frame its first byte came from; null if none.
   * Reads the direction in 4 MiB windows that overlap by the pattern's length, so a match across
   * two packets or two windows is found.
   */
  search(conn: number, dir: 0 | 1, pattern: Uint8Array, from: number, back = false): { offset: number; frame: number } | null {
    const k = (conn - 1) * 2 + dir;
    if (conn < 1 || k >= this.first.length || this.count[k] === 0 || pattern.length === 0) return null;
    const total = this.bytes[k];
    const pat = Buffer.from(pattern.buffer, pattern.byteOffset, pattern.length);
    const WINDOW = 4 << 20;
    const step = WINDOW - pattern.length + 1;
    const at = (start: number, end: number) => {
      const b = this.read(conn, dir, start, end).bytes;
      return Buffer.from(b.buffer, b.byteOffset, b.length);
    };
    if (!back) {
      for (let start = Math.max(0, from); start < total; start += step) {
        const i = at(start, start + WINDOW).indexOf(pat);
        if (i >= 0) return { offset: start + i, frame: this.frameAt(k, start + i) };
      }
    } else {
      for (let end = Math.min(total, from - 1 + pattern.length); end > 0; end -= step) {
        const start = Math.max(0, end - WINDOW);
        const i = at(start, end).lastIndexOf(pat);
        if (i >= 0 && start + i < from) return { offset: start + i, frame: this.frameAt(k, start + i) };
        if (start === 0) break;
      }
    }
    return null;
  }

  /** The stream offset in a direction of the first byte from frame `frame` or later (its length if none). */
  offsetAtFrame(conn: number, dir: 0 | 1, frame: number): number {
    const k = (conn - 1) * 2 + dir;
    if (conn < 1 || k >= this.first.length || this.count[k] === 0) return 0;
    const l = this.list(k);
    let lo = 0;
    let hi = l.count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.frame[l.pieces[mid]] < frame) lo = mid + 1;
      else hi = mid;
    }
    return lo < l.count ? l.offsets[lo] : this.bytes[k];
  }

  private frameAt(k: number, offset: number): number {
    const l = this.list(k);
    return this.frame[l.pieces[lastAtOrBefore(l.count, (j) => l.offsets[j], offset)]];
  }

  /**
   * Deletes the session folder and closes the file. The folder goes at once where the system
   * allows it (Linux, macOS: a write still under way keeps its descriptor until done), else when
   * the file is closed.
   */
  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    const remove = () => rmSync(this.dir, { recursive: true, force: true });
    this.file.close(remove);
    try {
      remove();
    } catch {
      // an open file cannot be removed here (Windows): removed when the file is closed
    }
  }
}
