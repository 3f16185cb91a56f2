/**
 * IPv4 and IPv6 fragment reassembly.
 *
 *   datagram buffer   0                                  total (known once the last fragment is seen)
 *                     ├──frag A──┤   ├────frag C────┤
 *   covered ranges    [0,a)          [c0,c1)                → complete when one range [0,total)
 *
 * Fragments are copied into one buffer per datagram (fragments are rare; this path may allocate).
 * Overlap policy `first` (default: the bytes that arrived first stay, as most stacks and
 * Wireshark do) or `last`. Overlaps are counted (`frag-overlap`), and overlapping bytes that differ
 * are counted as `frag-conflict` whatever the policy.
 *
 * Limits (all on by default): at most `maxDatagrams` incomplete datagrams and `maxBytes` buffered;
 * past either, the oldest incomplete datagram is dropped (`frag-limit`). Incomplete datagrams older
 * than `timeoutSec` of capture time are dropped (`frag-timeout`). A datagram that would exceed
 * 65,535 bytes is dropped (`frag-too-big`); inconsistent last fragments count `frag-bad`.
 */
import { DA, type DecodeAnomalies } from './anomalies';

export interface DefragOptions {
  maxBytes: number;
  maxDatagrams: number;
  timeoutSec: number;
  overlap: 'first' | 'last';
}

export const DEFAULT_DEFRAG: DefragOptions = {
  maxBytes: 16 * 1024 * 1024,
  maxDatagrams: 4096,
  timeoutSec: 30,
  overlap: 'first',
};

const MAX_DATAGRAM = 65535;

interface Datagram {
  buf: Uint8Array;
  ranges: number[]; // sorted, disjoint [start, end) pairs
  total: number; // -1 until the last fragment is seen
  firstSeen: number;
}

export class Defragmenter {
  private readonly pending = new Map<string, Datagram>();
  private bytes = 0;

  constructor(
    private readonly opts: DefragOptions,
    private readonly an: DecodeAnomalies,
  ) {}

  /** Incomplete datagrams held now. */
  get held(): number {
    return this.pending.size;
  }
  get heldBytes(): number {
    return this.bytes;
  }

  /**
   * Adds one fragment. `data` (copied) is the fragment's payload at byte `offset` of the
   * datagram's fragmentable part; `more` is the MF flag. Returns the complete payload when this
   * fragment completes it (a fresh buffer the caller owns), else null.
   */
  add(key: string, offset: number, more: boolean, data: Uint8Array, now: number): Uint8Array | null {
    this.expire(now);
    const end = offset + data.length;
    if (end > MAX_DATAGRAM) {
      this.an.inc(DA['frag-too-big']);
      this.drop(key);
      return null;
    }
    let d = this.pending.get(key);
    if (!d) {
      d = { buf: new Uint8Array(Math.max(64, end)), ranges: [], total: -1, firstSeen: now };
      this.pending.set(key, d);
      this.bytes += d.buf.length;
    }
    if (!more) {
      const covered = d.ranges.length ? d.ranges[d.ranges.length - 1] : 0;
      if ((d.total >= 0 && d.total !== end) || covered > end) {
        this.an.inc(DA['frag-bad']);
        this.drop(key);
        return null;
      }
      d.total = end;
    } else if (d.total >= 0 && end > d.total) {
      this.an.inc(DA['frag-bad']);
      this.drop(key);
      return null;
    }
    if (end > d.buf.length) {
      const bigger = new Uint8Array(Math.min(MAX_DATAGRAM, Math.max(end, d.buf.length * 2)));
      bigger.set(d.buf);
      this.bytes += bigger.length - d.buf.length;
      d.buf = bigger;
    }
    this.insert(d, offset, end, data);
    if (d.total >= 0 && d.ranges.length === 2 && d.ranges[0] === 0 && d.ranges[1] === d.total) {
      this.drop(key);
      return d.buf.subarray(0, d.total);
    }
    this.enforceLimits(key);
    return null;
  }

  private insert(d: Datagram, s: number, e: number, data: Uint8Array): void {
    const r = d.ranges;
    let overlapped = false;
    let conflict = false;
    for (let i = 0; i < r.length; i += 2) {
      const a = Math.max(s, r[i]);
      const b = Math.min(e, r[i + 1]);
      if (a >= b) continue;
      overlapped = true;
      for (let k = a; k < b && !conflict; k++) if (d.buf[k] !== data[k - s]) conflict = true;
    }
    if (overlapped) this.an.inc(DA['frag-overlap']);
    if (conflict) this.an.inc(DA['frag-conflict']);
    if (this.opts.overlap === 'last' || !overlapped) {
      d.buf.set(data, s);
    } else {
      // first wins: write only the parts not yet covered
      let cur = s;
      for (let i = 0; i < r.length && cur < e; i += 2) {
        if (r[i + 1] <= cur) continue;
        if (r[i] >= e) break;
        if (r[i] > cur) d.buf.set(data.subarray(cur - s, r[i] - s), cur);
        cur = Math.max(cur, r[i + 1]);
      }
      if (cur < e) d.buf.set(data.subarray(cur - s), cur);
    }
    // merge [s, e) into the range list
    const merged: number[] = [];
    let ns = s;
    let ne = e;
    let placed = false;
    for (let i = 0; i < r.length; i += 2) {
      if (r[i + 1] < ns) merged.push(r[i], r[i + 1]);
      else if (r[i] > ne) {
        if (!placed) {
          merged.push(ns, ne);
          placed = true;
        }
        merged.push(r[i], r[i + 1]);
      } else {
        ns = Math.min(ns, r[i]);
        ne = Math.max(ne, r[i + 1]);
      }
    }
    if (!placed) merged.push(ns, ne);
    d.ranges = merged;
  }

  private drop(key: string): void {
    const d = this.pending.get(key);
    if (!d) return;
    this.bytes -= d.buf.length;
    this.pending.delete(key);
  }

  private expire(now: number): void {
    for (const [k, d] of this.pending) {
      if (now - d.firstSeen <= this.opts.timeoutSec) break;
      this.an.inc(DA['frag-timeout']);
      this.drop(k);
    }
  }

  private enforceLimits(keep: string): void {
    while (this.pending.size > this.opts.maxDatagrams || this.bytes > this.opts.maxBytes) {
      const oldest = this.pending.keys().next().value as string;
      if (oldest === keep && this.pending.size === 1) {
        // A single datagram over the byte budget cannot be kept.
        this.an.inc(DA['frag-limit']);
        this.drop(oldest);
        return;
      }
      this.an.inc(DA['frag-limit']);
      this.drop(oldest === keep ? [...this.pending.keys()][1] : oldest);
    }
  }
}
