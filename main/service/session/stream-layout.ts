/**
 * A flow's conversation laid out as rows, for a stream pane that shows any size: both directions
 * in the order their bytes were delivered, each turn (a run of one direction's bytes) cut into
 * rows — text: at each line feed and at `wrap` bytes; hex: 16 bytes — with a row of its own for
 * each gap and each conflicting retransmission. The pane asks for the rows it shows; nothing
 * holds the bytes.
 *
 *   blocks (in conversation order):  kind │ dir │ stream start │ stream end │ first row
 *   text checkpoints:  the stream offset of every 256th row of each block (a row is found by
 *                      scanning at most 255 rows from one)
 *
 * Built on first use by reading the direction bytes once (text) or from the piece lengths alone
 * (hex), and extended as the flow grows: pieces are numbered in delivery order, so new pieces
 * come after every row already laid out.
 */
import { grownTo } from '../../engine/util/bytes';
import type { StreamRow } from '../../ipc/contract';
import type { Spool } from './spool';
import { printable } from '../../engine/util/printable';

export type RowView = 'text' | 'hex';

/** A gap or a conflicting retransmission, as the flow table lists them per direction. */
export interface Mark {
  offset: number;
  kind: 'gap' | 'conflict';
  text: string;
  /** More about it (a conflict's two versions). */
  title: string;
}

const DATA = 0;
const MARK = 1;
const CP_EVERY = 256;
const LF = 10;
/** Bytes read at once while scanning for line feeds. */
const CHUNK = 1 << 20;
const HEX_ROW = 16;

/** A direction's gaps and conflicts (as the flow table gives them) as marks, in stream order. */
export function marksOfDirection(m: { gaps: { offset: number; length: number; cause: string }[]; conflicts: { offset: number; kept: number[]; other: number[]; frame: number }[] }): Mark[] {
  const out: Mark[] = [
    ...m.gaps.map((g): Mark => ({ offset: g.offset, kind: 'gap', text: g.length >= 0 ? `${g.length.toLocaleString('en')} bytes not captured` : 'bytes not captured', title: `gap of ${g.length} bytes at offset ${g.offset} (${g.cause})` })),
    ...m.conflicts.map((c): Mark => ({ offset: c.offset, kind: 'conflict', text: `conflicting retransmission (frame ${c.frame})`, title: `kept: ${printable(c.kept)}\nother: ${printable(c.other)}` })),
  ];
  return out.sort((a, b) => a.offset - b.offset);
}

/** The layouts of the flows viewed lately (a few: each is small, its bytes stay in the spool). */
export class Layouts {
  private readonly kept = new Map<string, StreamLayout>();
  constructor(private readonly spool: Spool) {}

  /** `datagrams`: the flow is a UDP conversation, each datagram a turn of its own. */
  get(id: number, view: RowView, wrap: number, marks: () => [Mark[], Mark[]], datagrams = false): StreamLayout {
    const key = `${id}:${view}:${view === 'hex' ? 16 : wrap}`;
    let l = this.kept.get(key);
    if (l) this.kept.delete(key);
    else l = new StreamLayout(this.spool, id, view, wrap, datagrams);
    this.kept.set(key, l);
    if (this.kept.size > 6) this.kept.delete(this.kept.keys().next().value!);
    l.update(marks());
    return l;
  }
}

export class StreamLayout {
  private n = 0;
  private kind = new Uint8Array(64);
  private dir = new Uint8Array(64);
  private start = new Float64Array(64);
  private end = new Float64Array(64);
  private rowStart = new Float64Array(65);
  /** Data block: index of its first checkpoint; mark block: index into marks. */
  private ref = new Int32Array(64);
  private cps = new Float64Array(256);
  private cpCount = 0;
  private readonly marks: Mark[] = [];
  /** Pieces and marks laid out so far, per direction. */
  private readonly taken: [number, number] = [0, 0];
  private readonly marksTaken: [number, number] = [0, 0];
  /** Text: rows of the last block so far, and where its last row starts. */
  private openRows = 0;
  private openRowStart = 0;

  constructor(
    private readonly spool: Spool,
    readonly id: number,
    readonly view: RowView,
    /** Text: the widest row in bytes. */
    readonly wrap: number,
    /** Every piece starts a turn (a UDP conversation's datagrams: a datagram's end is a boundary the reader must see). */
    readonly datagrams = false,
  ) {}

  /** Rows laid out. */
  get rows(): number {
    return this.rowStart[this.n];
  }

  /** Lays out what was delivered (and marked) since the last call. */
  update(marks: [Mark[], Mark[]]): void {
    const a = this.spool.piecesOf(this.id, 0);
    const b = this.spool.piecesOf(this.id, 1);
    let i = this.taken[0];
    let j = this.taken[1];
    // merge the directions by piece number: the order the bytes were delivered
    while (i < a.count || j < b.count) {
      const d: 0 | 1 = j >= b.count || (i < a.count && a.pieces[i] < b.pieces[j]) ? 0 : 1;
      const l = d === 0 ? a : b;
      const k = d === 0 ? i++ : j++;
      const off = l.offsets[k];
      this.placeMarks(d, marks[d], off);
      this.addBytes(d, off, off + this.spool.pieceLength(l.pieces[k]));
    }
    this.taken[0] = i;
    this.taken[1] = j;
    // marks past the last byte (a gap at the end) come last
    this.placeMarks(0, marks[0], Infinity);
    this.placeMarks(1, marks[1], Infinity);
  }

  private placeMarks(d: 0 | 1, list: Mark[], before: number): void {
    while (this.marksTaken[d] < list.length && list[this.marksTaken[d]].offset <= before) {
      const m = list[this.marksTaken[d]++];
      const b = this.push(MARK, d, m.offset, m.offset);
      this.ref[b] = this.marks.length;
      this.marks.push(m);
      this.rowStart[b + 1] = this.rowStart[b] + 1;
    }
  }

  private push(kind: number, d: number, start: number, end: number): number {
    const b = this.n++;
    if (b + 1 >= this.kind.length) {
      const c = b + 2;
      this.kind = grownTo(this.kind, c);
      this.dir = grownTo(this.dir, c);
      this.start = grownTo(this.start, c);
      this.end = grownTo(this.end, c);
      this.ref = grownTo(this.ref, c);
      this.rowStart = grownTo(this.rowStart, c + 1);
    }
    this.kind[b] = kind;
    this.dir[b] = d;
    this.start[b] = start;
    this.end[b] = end;
    this.rowStart[b + 1] = this.rowStart[b];
    return b;
  }

  /** Bytes [s, e) of direction d follow in the conversation. */
  private addBytes(d: 0 | 1, s: number, e: number): void {
    if (e <= s) return;
    let b = this.n - 1;
    if (b < 0 || this.kind[b] !== DATA || this.dir[b] !== d || this.end[b] !== s || this.datagrams) {
      // a new turn
      b = this.push(DATA, d, s, s);
      this.ref[b] = this.cpCount;
      this.openRows = 0;
      this.openRowStart = s;
    }
    this.end[b] = e;
    if (this.view === 'hex') {
      this.rowStart[b + 1] = this.rowStart[b] + Math.ceil((e - this.start[b]) / HEX_ROW);
      return;
    }
    this.scanText(b, d, e);
  }

  /** Text: counts the rows of block b up to stream offset e (its rows so far are openRows, the last starting at openRowStart). */
  private scanText(b: number, d: 0 | 1, e: number): void {
    // the last row may grow: it is counted again from its start
    let rows = this.openRows > 0 ? this.openRows - 1 : 0;
    let rowAt = this.openRowStart;
    this.walkRows(d, rowAt, e, (start) => {
      if (rows % CP_EVERY === 0) this.checkpoint(b, rows, start);
      rowAt = start;
      rows++;
      return true;
    });
    this.openRows = rows;
    this.openRowStart = rowAt;
    this.rowStart[b + 1] = this.rowStart[b] + rows;
  }

  /**
   * Text: visits the rows of direction `d` from stream offset `pos` (a row's start) to `end` —
   * each ends at a line feed, at `wrap` bytes or at `end` — until `visit` returns false. Reads
   * the bytes in CHUNKs; a row that runs past a read is read again whole with the next.
   */
  private walkRows(d: 0 | 1, pos: number, end: number, visit: (start: number, length: number) => boolean): void {
    while (pos < end) {
      const buf = this.bytesAt(d, pos, end);
      if (buf.length === 0) return; // nothing more to read (never expected: the layout's ends are delivered bytes)
      const base = pos;
      let p = 0;
      let nl = buf.indexOf(LF);
      while (p < buf.length) {
        while (nl !== -1 && nl < p) nl = buf.indexOf(LF, p);
        let len = nl === -1 ? buf.length - p : nl - p + 1;
        if (len > this.wrap) len = this.wrap;
        // the row continues in the next read (a row longer than a whole read, never expected, is taken as it is)
        if (p > 0 && p + len >= buf.length && base + buf.length < end) break;
        if (!visit(base + p, len)) return;
        p += len;
      }
      pos = base + p;
    }
  }

  private checkpoint(b: number, row: number, off: number): void {
    const k = this.ref[b] + row / CP_EVERY;
    if (k < this.cpCount) return; // known already (the last row counted again)
    if (k >= this.cps.length) this.cps = grownTo(this.cps, k + 1);
    this.cps[k] = off;
    this.cpCount = k + 1;
  }

  /** Direction bytes [s, min(e, s + CHUNK)). */
  private bytesAt(d: 0 | 1, s: number, e: number): Buffer {
    const to = Math.min(e, s + Math.max(CHUNK, this.wrap * 2));
    const r = this.spool.read(this.id, d, s, to).bytes;
    return Buffer.from(r.buffer, r.byteOffset, r.length);
  }

  /** Block holding row r. */
  private blockOfRow(r: number): number {
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.rowStart[mid] <= r) lo = mid;
      else hi = mid - 1;
    }
    // blocks without rows share a start: take the last one that has r
    while (lo < this.n - 1 && this.rowStart[lo + 1] <= r) lo++;
    return lo;
  }

  /** Rows [from, from + count). */
  read(from: number, count: number): StreamRow[] {
    const out: StreamRow[] = [];
    const to = Math.min(this.rows, from + count);
    let r = from;
    while (r < to) {
      const b = this.blockOfRow(r);
      const first = this.rowStart[b];
      const last = this.rowStart[b + 1];
      if (this.kind[b] === MARK) {
        const m = this.marks[this.ref[b]];
        out.push({ kind: m.kind, dir: this.dir[b] as 0 | 1, offset: m.offset, length: 0, data: '', text: m.text, title: m.title, provenance: [] });
        r++;
        continue;
      }
      const n = Math.min(to, last) - r;
      if (n <= 0) break; // a layout that does not hold row r (never expected): stop rather than loop
      this.dataRows(b, r - first, n, out);
      r += n;
    }
    return out;
  }

  /** Rows k … k+n-1 of data block b. */
  private dataRows(b: number, k: number, n: number, out: StreamRow[]): void {
    const d = this.dir[b] as 0 | 1;
    const end = this.end[b];
    const starts: number[] = [];
    if (this.view === 'hex') {
      for (let i = 0; i < n; i++) starts.push(this.start[b] + (k + i) * HEX_ROW);
      starts.push(Math.min(end, this.start[b] + (k + n) * HEX_ROW));
    } else {
      // from the checkpoint at or before row k, scan to row k, then take n rows (and the start after them)
      const cp = Math.floor(k / CP_EVERY);
      let row = cp * CP_EVERY;
      this.walkRows(d, this.cps[this.ref[b] + cp], end, (start) => {
        if (row++ >= k) starts.push(start);
        return starts.length <= n;
      });
      if (starts.length <= n) starts.push(end);
    }
    // one read for the rows' bytes, cut per row with each row's provenance
    const from = starts[0];
    const to = starts[starts.length - 1];
    const r = this.spool.read(this.id, d, from, to);
    let pi = 0;
    for (let i = 0; i + 1 < starts.length; i++) {
      const s = starts[i];
      const e = starts[i + 1];
      const prov: StreamRow['provenance'] = [];
      while (pi < r.provenance.length && r.provenance[pi].offset + r.provenance[pi].length <= s) pi++;
      for (let q = pi; q < r.provenance.length && r.provenance[q].offset < e; q++) {
        const p = r.provenance[q];
        const a = Math.max(s, p.offset);
        const z = Math.min(e, p.offset + p.length);
        prov.push({ offset: a, length: z - a, frame: p.frame, tsSec: p.tsSec, tsNsec: p.tsNsec });
      }
      out.push({ kind: 'data', dir: d, offset: s, length: e - s, data: Buffer.from(r.bytes.buffer, r.bytes.byteOffset + (s - from), e - s).toString('base64'), text: '', title: '', provenance: prov });
    }
  }

  /** The row holding byte `offset` of direction `dir` (the row after it when no laid-out row does), or −1 when there are no rows. */
  rowOf(dir: 0 | 1, offset: number): number {
    let best = -1;
    for (let b = 0; b < this.n; b++) {
      if (this.kind[b] !== DATA || this.dir[b] !== dir) continue;
      if (this.end[b] <= offset) {
        best = this.rowStart[b + 1];
        continue;
      }
      if (this.start[b] > offset) return this.rowStart[b];
      const k = this.rowInBlock(b, offset);
      return this.rowStart[b] + k;
    }
    return best >= this.rows ? Math.max(0, this.rows - 1) : best;
  }

  private rowInBlock(b: number, offset: number): number {
    if (this.view === 'hex') return Math.floor((offset - this.start[b]) / HEX_ROW);
    // the last checkpoint at or before offset, then scan
    const first = this.ref[b];
    const rows = this.rowStart[b + 1] - this.rowStart[b];
    const cpsOfBlock = Math.ceil(rows / CP_EVERY);
    let lo = 0;
    let hi = cpsOfBlock - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.cps[first + mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    let row = lo * CP_EVERY;
    let found = -1;
    this.walkRows(this.dir[b] as 0 | 1, this.cps[first + lo], this.end[b], (start, len) => {
      if (start + len > offset) {
        found = row;
        return false;
      }
      row++;
      return true;
    });
    return found >= 0 ? found : row;
  }
}
