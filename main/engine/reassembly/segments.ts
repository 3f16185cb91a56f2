/**
 * Segment insertion: out-of-order bytes copied into a direction's pages, and the overlap policy
 * applied where they meet bytes already held (the assembler's second job, as Suricata keeps its
 * segment list apart from its state machine). Pages stay sorted by sequence and never overlap.
 *
 * Overlapping bytes that differ from the held copy are a conflict (recorded with both versions);
 * which copy stays is the policy's choice: the first (`first`, the default) or the last.
 */
import { SA } from './anomalies';
import { pageEnd, type HalfConnection } from './half-connection';
import { PAGE_SIZE, type Page, type PageCache } from './page-cache';
import { seqAdd, seqDiff } from './sequence';
import { copyCaptureInfo, type CaptureInfo } from './types';

export type OverlapPolicy = 'first' | 'last';

/** Copies [seq, seq+len) of buf[off…] into `half`'s pages, applying `policy` against pages already held. */
export function insertSegment(half: HalfConnection, cache: PageCache, policy: OverlapPolicy, seq: number, buf: Uint8Array, off: number, len: number, ci: CaptureInfo): void {
  if (len <= 0) return;
  const last = policy === 'last';
  let cur = seq;
  const end = seqAdd(seq, len);
  let prev: Page | null = null;
  let p = half.first;
  // skip pages wholly before cur
  while (p !== null && seqDiff(pageEnd(p), cur) >= 0) {
    prev = p;
    p = p.next;
  }
  let overlapped = false;
  while (seqDiff(cur, end) > 0) {
    if (p === null || seqDiff(end, p.seq) >= 0) {
      prev = addPages(half, cache, prev, p, cur, buf, off + seqDiff(seq, cur), seqDiff(cur, end), ci);
      break;
    }
    if (seqDiff(cur, p.seq) > 0) {
      const n = seqDiff(cur, p.seq);
      prev = addPages(half, cache, prev, p, cur, buf, off + seqDiff(seq, cur), n, ci);
      cur = p.seq;
    }
    // cur is inside p: the overlap [cur, min(end, pageEnd(p)))
    const pe = pageEnd(p);
    const stop = seqDiff(end, pe) < 0 ? pe : end;
    const n = seqDiff(cur, stop);
    const po = seqDiff(p.seq, cur);
    const bo = off + seqDiff(seq, cur);
    overlapped = true;
    for (let i = 0; i < n; i++) {
      if (p.bytes[po + i] !== buf[bo + i]) {
        half.recordConflict(seqAdd(cur, i), p.bytes, po + i, buf, bo + i, n - i, ci.frame);
        break;
      }
    }
    if (last) p.bytes.set(buf.subarray(bo, bo + n), po);
    p.overlapped = true;
    cur = stop;
    prev = p;
    p = p.next;
  }
  if (overlapped) half.count(SA.overlap);
}

/** Inserts pages holding n bytes of buf[o…] at sequence s between prev and next. Returns the last page. */
function addPages(half: HalfConnection, cache: PageCache, prev: Page | null, next: Page | null, s: number, buf: Uint8Array, o: number, n: number, ci: CaptureInfo): Page | null {
  let seq = s;
  let left = n;
  let at = o;
  while (left > 0) {
    const p = cache.get();
    const take = left < PAGE_SIZE ? left : PAGE_SIZE;
    p.bytes.set(buf.subarray(at, at + take), 0);
    p.seq = seq;
    p.len = take;
    copyCaptureInfo(p.ci, ci);
    if (prev === null) half.first = p;
    else prev.next = p;
    p.next = next;
    prev = p;
    half.pages++;
    half.bufferedBytes += take;
    seq = seqAdd(seq, take);
    at += take;
    left -= take;
  }
  return prev;
}
