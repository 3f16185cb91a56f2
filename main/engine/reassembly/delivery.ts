/**
 * Delivery: the assembler's third job. Bytes of a direction that are now in order — the bytes a
 * stream kept (keepFrom) when they are contiguous, the packet's in-order part, then every page
 * that follows without a hole — go to the Stream in one ScatterGather; pages go back to the
 * cache only after the stream has seen them. Also the end of a direction (an empty delivery
 * marked end), draining a direction past its holes, and dropping what waits beyond a hole the
 * peer never acknowledged.
 *
 * The assembler sets `ctx` and `ci` for each packet (a flush delivers with the last ones).
 */
import { SA, type GapCause } from './anomalies';
import { pageEnd, type HalfConnection } from './half-connection';
import type { Page, PageCache } from './page-cache';
import { ScatterGatherBuffer } from './scatter-gather';
import { seqAdd, seqDiff } from './sequence';
import type { Connection } from './stream-pool';
import { copyCaptureInfo, type AssemblerContext, type CaptureInfo } from './types';

export class Delivery {
  private readonly sg = new ScatterGatherBuffer();
  ctx!: AssemblerContext;
  ci!: CaptureInfo;

  constructor(private readonly cache: PageCache) {}

  /**
   * Delivers kept bytes, then `buf[off, off+len)` (the in-order part of the current packet, if any),
   * then every page that is now contiguous, in one ScatterGather.
   */
  deliver(conn: Connection, half: HalfConnection, buf: Uint8Array | null, off: number, len: number): void {
    const sg = this.sg;
    sg.reset(half.dir, half.startPending, half.pendingSkip);
    this.putKept(half, sg);
    const pktSeq = half.nextSeq;
    if (buf !== null && len > 0) {
      sg.add(buf, off, len, this.ci, false);
      half.remember(buf, off, len, seqAdd(half.nextSeq, len));
      half.nextSeq = seqAdd(half.nextSeq, len);
    }
    // Pages now in order. Their bytes behind nextSeq were covered by this packet: compare, drop.
    let p = half.first;
    while (p !== null && seqDiff(half.nextSeq, p.seq) <= 0) {
      const pe = pageEnd(p);
      const skipIn = seqDiff(p.seq, half.nextSeq);
      if (buf !== null && len > 0 && skipIn > 0) this.compareCovered(half, p, buf, off + seqDiff(pktSeq, p.seq), Math.min(skipIn, p.len));
      if (seqDiff(half.nextSeq, pe) > 0) {
        sg.add(p.bytes, skipIn, p.len - skipIn, p.ci, true);
        if (p.overlapped) sg.noteOverlap(p.len - skipIn);
        half.remember(p.bytes, skipIn, p.len - skipIn, pe);
        half.nextSeq = pe;
      }
      p = p.next;
    }
    const toFree = half.first;
    half.first = p;
    if (half.finSeen && !half.finReached && half.nextSeq === half.finSeq) sg.markEnd();
    const n = sg.newBytes;
    if (sg.total > 0 && (n > 0 || sg.ends)) {
      half.startPending = false;
      half.pendingSkip = 0;
      half.delivered += n;
      half.keptLen = 0;
      conn.stream.reassembledSG(sg, this.ctx);
      if (sg.keep >= 0) this.keep(half, sg);
    }
    sg.clear();
    // Return delivered pages to the cache only after the stream has seen them.
    for (let q = toFree; q !== null && q !== p; ) {
      const nx = q.next;
      half.pages--;
      half.bufferedBytes -= q.len;
      this.cache.release(q);
      q = nx;
    }
    if (sg.ends) this.reachFin(conn, half, true);
  }

  /**
   * Puts the bytes the stream kept (keepFrom) in front of a delivery, when they are contiguous
   * with it. Across a gap they are dropped, as gopacket does (its TestKeepWithFlush): glued to the
   * bytes after the gap they would read as data that never existed (a line "Ho" + "st: x").
   */
  private putKept(half: HalfConnection, sg: ScatterGatherBuffer): void {
    if (half.keptLen === 0 || half.kept === null) return;
    if (half.pendingSkip !== 0) {
      half.keptLen = 0;
      return;
    }
    sg.addKept(half.kept, half.keptLen, half.keptCi!);
  }

  /** Page bytes [0, n) were covered by packet bytes buf[o…]: a conflict if they differ. */
  private compareCovered(half: HalfConnection, p: Page, buf: Uint8Array, o: number, n: number): void {
    this.sg.noteOverlap(n);
    half.count(SA.overlap);
    for (let i = 0; i < n; i++) {
      if (p.bytes[i] !== buf[o + i]) {
        half.recordConflict(seqAdd(p.seq, i), buf, o + i, p.bytes, i, n - i, p.ci.frame);
        return;
      }
    }
  }

  private keep(half: HalfConnection, sg: ScatterGatherBuffer): void {
    const n = sg.total - sg.keep;
    if (n <= 0) return;
    if (half.kept === null || half.kept.length < n) half.kept = new Uint8Array(Math.max(n, 2 * (half.kept?.length ?? 0), 256));
    copyCaptureInfo((half.keptCi ??= { tsSec: 0, tsNsec: 0, frame: 0, capLen: 0, origLen: 0 }), sg.captureInfo(sg.keep));
    sg.copyInto(half.kept, sg.keep, n);
    half.keptLen = n;
  }

  /** The FIN of `half` took effect. */
  reachFin(conn: Connection, half: HalfConnection, endDelivered = false): void {
    if (half.finReached) return;
    half.finReached = true;
    if (!endDelivered && !half.ended) this.deliverEnd(conn, half);
    half.ended = true;
  }

  /** An empty delivery that marks the end of a direction (for streams that wait for it). */
  deliverEnd(conn: Connection, half: HalfConnection): void {
    const sg = this.sg;
    sg.reset(half.dir, half.startPending, half.pendingSkip);
    sg.markEnd();
    this.putKept(half, sg);
    half.keptLen = 0;
    conn.stream.reassembledSG(sg, this.ctx);
    sg.clear();
    half.ended = true;
  }

  dropUnacked(half: HalfConnection): void {
    let p = half.first;
    if (p === null || p.seq === half.nextSeq) return;
    // holes below the peer's ACK were skipped when the ACK came; what is left waits on an unacked hole
    half.first = null;
    while (p !== null) {
      const nx: Page | null = p.next;
      half.droppedBytes += p.len;
      half.pages--;
      half.bufferedBytes -= p.len;
      this.cache.release(p);
      p = nx;
    }
    half.count(SA['unacked-dropped']);
  }

  /** Delivers everything `half` still buffers, skipping holes with `cause`. */
  drain(conn: Connection, half: HalfConnection, cause: GapCause): void {
    while (half.first !== null) {
      half.skipTo(half.first.seq, cause);
      this.deliver(conn, half, null, 0, 0);
    }
  }
}
