/**
 * Flushing: the assembler's fourth job. Connections quiet since before a time are flushed (their
 * pages delivered past the holes), parked (pipelines: memory freed, the connection waits to be
 * continued) or closed; parked ones whose park is over end as idle; at the end of input every
 * connection completes, in order of first packet. The activity list keeps the quiet ones at its
 * head, so a flush walks only those (a once-a-second flush over 150,000 open connections would
 * otherwise visit them all).
 */
import type { GapCause } from './anomalies';
import type { HalfConnection } from './half-connection';
import type { PageCache } from './page-cache';
import type { CloseReason, Connection, StreamPool } from './stream-pool';
import type { FlushOptions } from './types';

export interface FlushCounts {
  flushed: number;
  closed: number;
  parked: number;
}

/** What a flush needs of the assembler: its pool and pages, its options, and how it ends and drains connections. */
export interface Flushing {
  pool: StreamPool;
  cache: PageCache;
  opts: { parkSec: number };
  now(): number;
  finish(c: Connection, why: CloseReason): void;
  drain(c: Connection, h: HalfConnection, cause: GapCause): void;
}

/** gopacket's FlushWithOptions: t flushes connections quiet since before it, tc parks (parkSec > 0) or closes them. */
export function flushIdle(a: Flushing, o: FlushOptions): FlushCounts {
  let flushed = 0;
  let closed = 0;
  let parked = 0;
  const pool = a.pool;
  const park = a.opts.parkSec > 0;
  const bound = Math.max(o.t, o.tc);
  let c = pool.lruHead;
  while (c !== null) {
    const last = c.lastSec + c.lastNsec / 1e9;
    if (last >= bound) break;
    const next: Connection | null = c.lruNext;
    if (last < o.tc) {
      if (c.completed) pool.remove(c);
      else if (park) {
        // Idle: its memory goes (pages delivered past their holes), the connection waits.
        a.drain(c, c.h0, 'idle-flush');
        a.drain(c, c.h1, 'idle-flush');
        pool.park(c);
        parked++;
      } else {
        a.finish(c, 'idle');
        closed++;
        pool.remove(c);
      }
    } else if (!c.completed && (c.h0.first !== null || c.h1.first !== null)) {
      a.drain(c, c.h0, 'idle-flush');
      a.drain(c, c.h1, 'idle-flush');
      flushed++;
    }
    c = next;
  }
  // Parked past their park: nothing continued them, they end as idle (in the order they went quiet).
  const expired = o.tc - a.opts.parkSec;
  while (pool.parkedHead !== null && pool.parkedHead.lastSec + pool.parkedHead.lastNsec / 1e9 < expired) {
    const p = pool.parkedHead;
    a.finish(p, 'idle');
    closed++;
    pool.remove(p);
  }
  pool.sweepTombstones(a.now());
  a.cache.trim();
  return { flushed, closed, parked };
}

/** End of input: everything delivered, every connection completed (parked ones as idle), in order of first packet; `before(id)` first for each. */
export function flushEverything(a: Flushing, before?: (id: number) => void): number {
  let closed = 0;
  const all = a.pool.connections().sort((x, y) => x.id - y.id);
  for (const c of all) {
    before?.(c.id);
    if (!c.completed) {
      a.finish(c, c.parked ? 'idle' : 'end-of-input');
      closed++;
    }
    a.pool.remove(c);
  }
  a.cache.trim();
  return closed;
}
