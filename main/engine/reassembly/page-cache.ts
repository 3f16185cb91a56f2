/**
 * Pages for out-of-order bytes.
 *
 *   free list:  [page]→[page]→[page]            in use: each page holds ≤ PAGE_SIZE bytes of ONE
 *                                               segment, linked in sequence order per direction
 *   ┌──────────── page ────────────┐
 *   │ seq │ len │ bytes[PAGE_SIZE] │ ci (frame, time, lengths) │ next │
 *   └──────────────────────────────┘
 *
 * In-order data never comes here: it is delivered straight from the capture chunk. Only bytes
 * that must wait (beyond a hole) are copied into pages. Pages are reused through a free list; the
 * free list shrinks after a spike (`trim()`, called by flushes): more than `keepFree` idle pages
 * are released to the garbage collector, unlike gopacket's cache which never gives memory back.
 */
import type { CaptureInfo } from './types';

export const PAGE_SIZE = 1900;

export class Page {
  readonly bytes = new Uint8Array(PAGE_SIZE);
  seq = 0;
  len = 0;
  next: Page | null = null;
  readonly ci: CaptureInfo = { tsSec: 0, tsNsec: 0, frame: 0, capLen: 0, origLen: 0 };
  /** Segment was flagged as a retransmission-in-buffer (for stats). */
  overlapped = false;
  /** Sequence range of the segment that brought these bytes (the target-based overlap policies compare segments, not pages). */
  segSeq = 0;
  segEnd = 0;
}

export class PageCache {
  private free: Page[] = [];
  /** Pages handed out and not yet returned. */
  used = 0;
  /** Pages ever allocated and still referenced by the cache or users. */
  allocated = 0;
  highWater = 0;

  constructor(private readonly keepFree = 256) {}

  get(): Page {
    let p = this.free.pop();
    if (!p) {
      p = new Page();
      this.allocated++;
    }
    p.next = null;
    p.overlapped = false;
    this.used++;
    if (this.used > this.highWater) this.highWater = this.used;
    return p;
  }

  release(p: Page): void {
    this.used--;
    p.next = null;
    this.free.push(p);
  }

  /** Gives idle pages back to the garbage collector, keeping at most `keepFree`. */
  trim(): number {
    const drop = this.free.length - this.keepFree;
    if (drop <= 0) return 0;
    this.free.length = this.keepFree;
    this.allocated -= drop;
    return drop;
  }

  get freePages(): number {
    return this.free.length;
  }
}
