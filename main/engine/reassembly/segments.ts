/**
 * Segment insertion: out-of-order bytes copied into a direction's pages, and the overlap policy
 * applied where they meet bytes already held (the assembler's second job, as Suricata keeps its
 * segment list apart from its state machine). Pages stay sorted by sequence and never overlap.
 *
 * Overlapping bytes that differ from the held copy are a conflict (recorded with both versions);
 * which copy stays is the policy's choice. `first` (the default) keeps the held copy, `last` takes
 * the new one. The target-based policies do what that operating system's TCP does (Novak and
 * Sturges, "Target-Based TCP Stream Reassembly", 2007, as Suricata implements it): the new
 * segment's bytes win or not by where it starts and ends against the held segment's (see
 * newWins). They apply wherever bytes are still held: a segment arriving in order that overlaps
 * held bytes is put through them too (the assembler does that), where `first` and `last` let the
 * in-order segment win, as tshark's Follow shows it.
 */
import { SA } from './anomalies';
import { pageEnd, type HalfConnection } from './half-connection';
import { PAGE_SIZE, type Page, type PageCache } from './page-cache';
import { seqAdd, seqDiff } from './sequence';
import { copyCaptureInfo, type CaptureInfo } from './types';

export const OVERLAP_POLICIES = ['first', 'last', 'linux', 'old-linux', 'bsd', 'bsd-right', 'windows', 'vista', 'solaris', 'hpux10', 'hpux11', 'irix', 'macos'] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

/** A target-based policy (the in-order segment goes through the table too), not first or last. */
export function targetBased(p: OverlapPolicy): boolean {
  return p !== 'first' && p !== 'last';
}

/**
 * Whether the new segment [s, e)'s bytes replace a held segment [hs, he)'s where they overlap,
 * under `policy`. The cases, by where the new segment starts:
 *   at the held one's start: when it ends after it, linux; when it ends at or after it, old-linux,
 *     solaris, hpux11; otherwise none;
 *   before it: bsd, hpux10, irix, windows, old-linux, linux, macos always; solaris and hpux11
 *     when it ends at or after the held one's end;
 *   after it: solaris and hpux11 when it ends after the held one's end.
 * bsd-right and vista keep the held bytes in every case (as Suricata's table has them).
 */
export function newWins(policy: OverlapPolicy, s: number, e: number, hs: number, he: number): boolean {
  if (policy === 'last') return true;
  if (policy === 'first') return false;
  const start = seqDiff(hs, s); // > 0: the new one starts after
  const end = seqDiff(he, e); // > 0: the new one ends after
  const solaris = policy === 'solaris' || policy === 'hpux11';
  if (start === 0) {
    if (end > 0 && policy === 'linux') return true;
    return end >= 0 && (solaris || policy === 'old-linux');
  }
  if (start < 0) {
    if (end >= 0 && solaris) return true;
    return policy === 'bsd' || policy === 'hpux10' || policy === 'irix' || policy === 'windows' || policy === 'old-linux' || policy === 'linux' || policy === 'macos';
  }
  return end > 0 && solaris;
}

/** Copies [seq, seq+len) of buf[off…] into `half`'s pages, applying `policy` against pages already held. */
export function insertSegment(half: HalfConnection, cache: PageCache, policy: OverlapPolicy, seq: number, buf: Uint8Array, off: number, len: number, ci: CaptureInfo): void {
  if (len <= 0) return;
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
      prev = addPages(half, cache, prev, p, cur, buf, off + seqDiff(seq, cur), seqDiff(cur, end), ci, seq, end);
      break;
    }
    if (seqDiff(cur, p.seq) > 0) {
      const n = seqDiff(cur, p.seq);
      prev = addPages(half, cache, prev, p, cur, buf, off + seqDiff(seq, cur), n, ci, seq, end);
      cur = p.seq;
    }
    // cur is inside p: the overlap [cur, min(end, pageEnd(p)))
    const pe = pageEnd(p);
    const stop = seqDiff(end, pe) < 0 ? pe : end;
    const n = seqDiff(cur, stop);
    const po = seqDiff(p.seq, cur);
    const bo = off + seqDiff(seq, cur);
    overlapped = true;
    const wins = newWins(policy, seq, end, p.segSeq, p.segEnd);
    for (let i = 0; i < n; i++) {
      if (p.bytes[po + i] !== buf[bo + i]) {
        // the copy kept first, the other second
        if (wins) half.recordConflict(seqAdd(cur, i), buf, bo + i, p.bytes, po + i, n - i, ci.frame);
        else half.recordConflict(seqAdd(cur, i), p.bytes, po + i, buf, bo + i, n - i, ci.frame);
        break;
      }
    }
    if (wins) p.bytes.set(buf.subarray(bo, bo + n), po);
    p.overlapped = true;
    cur = stop;
    prev = p;
    p = p.next;
  }
  if (overlapped) half.count(SA.overlap);
}

/** Inserts pages holding n bytes of buf[o…] at sequence s between prev and next. Returns the last page. */
function addPages(half: HalfConnection, cache: PageCache, prev: Page | null, next: Page | null, s: number, buf: Uint8Array, o: number, n: number, ci: CaptureInfo, segSeq: number, segEnd: number): Page | null {
  let seq = s;
  let left = n;
  let at = o;
  while (left > 0) {
    const p = cache.get();
    const take = left < PAGE_SIZE ? left : PAGE_SIZE;
    p.bytes.set(buf.subarray(at, at + take), 0);
    p.seq = seq;
    p.len = take;
    p.segSeq = segSeq;
    p.segEnd = segEnd;
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
