/**
 * One direction of a TCP connection: where the next byte is expected, what waits beyond holes,
 * and what went wrong (named counters, gaps, conflicting overlaps).
 *
 *   delivered ──────────────┤ nextSeq
 *                           │ hole │ page │ page │  hole  │ page │   (sorted, never overlapping)
 *                           └──────┴──────┴──────┴────────┴──────┘
 *
 * Bytes at nextSeq are delivered at once, straight from the packet. Bytes beyond a hole are copied
 * into pages (page-cache.ts) until the hole is filled, acknowledged by the peer (the capture missed
 * it: skipped as a gap when the next segment beyond it comes), or pushed out by a page budget or a
 * flush.
 *
 * Overlaps follow one policy for buffered and delivered bytes. Delivered bytes always stand (they
 * are gone); among buffered bytes the first copy wins (`first`, default) or the last (`last`).
 * Overlapping bytes that differ from the copy kept are a `conflicting-overlap` anomaly and, up to
 * MAX_CONFLICTS per direction, a Conflict record with both versions. Bytes already delivered in
 * order are not kept (that is what makes in-order delivery copy-free), so they can be compared with
 * a retransmission only while they are still at hand: the engine compares against its pages and,
 * when the `deliveredWindow` option is set, a window of the most recent delivered bytes.
 */
import { MAX_CONFLICT_BYTES, MAX_CONFLICTS, SA, STREAM_ANOMALY_NAMES, type Conflict, type Gap, type GapCause, type StreamAnomalyName } from './anomalies';
import type { Page } from './page-cache';
import { seqAdd, seqDiff } from './sequence';
import type { CaptureInfo, HalfConnectionState, TCPFlowDirection } from './types';

/** Gaps listed one by one per direction; past this only counted (gapCount, gapBytes). */
export const MAX_GAPS_LISTED = 1000;

const NO_GAPS: readonly Gap[] = Object.freeze([]);
const NO_CONFLICTS: readonly Conflict[] = Object.freeze([]);
/** What anomalyObject() returns for a direction without anomalies: one shared, frozen object. */
const NO_ANOMALIES: Record<string, number> = Object.freeze({}) as Record<string, number>;

/** What a direction rarely needs, made the first time one of these is set. */
class HalfExtras {
  truncHoleSeq = 0;
  aheadAck = 0;
  quietSec = 0;
  startSeq = 0;
  kept: Uint8Array | null = null;
  keptLen = 0;
  keptCi: CaptureInfo | null = null;
  window: Uint8Array | null = null;
  windowEndSeq = 0;
  windowLen = 0;
  droppedBytes = 0;
  gapList: Gap[] | null = null;
  conflictList: Conflict[] | null = null;
}

// flag bits of HalfConnection.bits
const STARTED = 1, SYN_SEEN = 2, ACK_KNOWN = 4, FIN_SEEN = 8, FIN_REACHED = 16, RST_SEEN = 32, ENDED = 64, START_PENDING = 128, TRUNC_HOLE = 256, AHEAD_ACK = 512, MID_STREAM = 1024;

/**
 * Cost: a connection should cost what it uses, and most directions of a real capture (and every
 * direction of a SYN flood) carry no anomaly, gap, conflict, truncation or kept bytes. So a
 * direction is 16 fields: its sequence numbers and counters, its yes/no states as bits of one
 * number (read and written through the accessors below, which V8 inlines), and a pointer to the
 * rest (HalfExtras: kept bytes, the delivered window, gap and conflict lists), made the first
 * time something there is set. Anomaly counters are made at the first anomaly.
 */
/**
 * What the engine judged of the packet being handled, for the assembler's PacketObserver: the
 * anomalies counted on `half` (the packet's direction) while it is handled, a bit each.
 */
export const judged: { half: HalfConnection | null; bits: number } = { half: null, bits: 0 };

export class HalfConnection implements HalfConnectionState {
  private bits = 0;
  isn = 0;
  /** The next byte expected (valid once started). */
  nextSeq = 0;
  /**
   * Highest ACK the peer sent for this direction's data, when ackKnown — never beyond sentEnd as
   * it was when the ACK came: an ACK for bytes not yet seen (captured before them, or carried by
   * a segment the capture reordered) says nothing about holes yet to come.
   */
  peerAck = 0;
  /** End of the highest sequence this direction was seen to send (data, SYN or FIN), once started. */
  sentEnd = 0;
  finSeq = 0;
  /** Out-of-order pages, sorted by sequence, non-overlapping. */
  first: Page | null = null;
  pages = 0;
  bufferedBytes = 0;
  /** Bytes delivered so far (the offset of the next delivered byte). */
  delivered = 0;
  /** Bytes skipped since the last delivery (−1: unknown, mid-stream start). */
  pendingSkip = 0;
  packets = 0;
  gapCount = 0;
  gapBytes = 0;
  /** Anomaly counters by STREAM_ANOMALY_NAMES index (null: none counted yet). */
  counts: Float64Array | null = null;
  private x: HalfExtras | null = null;

  constructor(readonly dir: TCPFlowDirection) {}

  private flag(bit: number, on: boolean): void {
    this.bits = on ? this.bits | bit : this.bits & ~bit;
  }

  /** A SYN, or the first data of a mid-stream start, has fixed the sequence space. */
  get started(): boolean {
    return (this.bits & STARTED) !== 0;
  }
  set started(v: boolean) {
    this.flag(STARTED, v);
  }
  get synSeen(): boolean {
    return (this.bits & SYN_SEEN) !== 0;
  }
  set synSeen(v: boolean) {
    this.flag(SYN_SEEN, v);
  }
  /** peerAck holds an ACK the peer sent. */
  get ackKnown(): boolean {
    return (this.bits & ACK_KNOWN) !== 0;
  }
  set ackKnown(v: boolean) {
    this.flag(ACK_KNOWN, v);
  }
  get finSeen(): boolean {
    return (this.bits & FIN_SEEN) !== 0;
  }
  set finSeen(v: boolean) {
    this.flag(FIN_SEEN, v);
  }
  /** The FIN took effect: every byte before it was delivered or skipped. */
  get finReached(): boolean {
    return (this.bits & FIN_REACHED) !== 0;
  }
  set finReached(v: boolean) {
    this.flag(FIN_REACHED, v);
  }
  get rstSeen(): boolean {
    return (this.bits & RST_SEEN) !== 0;
  }
  set rstSeen(v: boolean) {
    this.flag(RST_SEEN, v);
  }
  /** The end of this direction was delivered (FIN reached, RST, or a closing flush). */
  get ended(): boolean {
    return (this.bits & ENDED) !== 0;
  }
  set ended(v: boolean) {
    this.flag(ENDED, v);
  }
  /** The next delivery starts the direction. */
  get startPending(): boolean {
    return (this.bits & START_PENDING) !== 0;
  }
  set startPending(v: boolean) {
    this.flag(START_PENDING, v);
  }
  /** Snaplen truncation left a hole at truncHoleSeq, so skipping it is reported as cause 'truncated'. */
  get truncHole(): boolean {
    return (this.bits & TRUNC_HOLE) !== 0;
  }
  set truncHole(v: boolean) {
    this.flag(TRUNC_HOLE, v);
  }

  private more(): HalfExtras {
    return (this.x ??= new HalfExtras());
  }

  /**
   * An ACK the peer sent beyond anything this direction was seen to send (the capture missed the
   * bytes, or reordered the ACK before them): it is believed only for a segment that starts
   * exactly where it points, the receiver's next expected byte.
   */
  get aheadAck(): number {
    return (this.bits & AHEAD_ACK) === 0 || this.x === null ? 0 : this.x.aheadAck;
  }
  get aheadAckKnown(): boolean {
    return (this.bits & AHEAD_ACK) !== 0;
  }
  noteAheadAck(ack: number): void {
    if (this.aheadAckKnown && seqDiff(this.more().aheadAck, ack) <= 0) return;
    this.more().aheadAck = ack;
    this.flag(AHEAD_ACK, true);
  }

  /** Longest quiet period (capture seconds) after which this direction resumed a parked connection; 0 if none. */
  get longestQuietSec(): number {
    return this.x === null ? 0 : this.x.quietSec;
  }
  noteQuiet(sec: number): void {
    const x = this.more();
    if (sec > x.quietSec) x.quietSec = sec;
  }

  get truncHoleSeq(): number {
    return this.x === null ? 0 : this.x.truncHoleSeq;
  }
  set truncHoleSeq(v: number) {
    if (v !== 0 || this.x !== null) this.more().truncHoleSeq = v;
  }
  /** Bytes carried over by ScatterGather.keepFrom, put in front of the next delivery. */
  get kept(): Uint8Array | null {
    return this.x === null ? null : this.x.kept;
  }
  set kept(v: Uint8Array | null) {
    if (v !== null || this.x !== null) this.more().kept = v;
  }
  get keptLen(): number {
    return this.x === null ? 0 : this.x.keptLen;
  }
  set keptLen(v: number) {
    if (v !== 0 || this.x !== null) this.more().keptLen = v;
  }
  /** Capture info of the first kept byte (made with `kept`). */
  get keptCi(): CaptureInfo | null {
    return this.x === null ? null : this.x.keptCi;
  }
  set keptCi(v: CaptureInfo | null) {
    if (v !== null || this.x !== null) this.more().keptCi = v;
  }
  /** Optional window of recent delivered bytes, for conflict checks against delivered data. */
  get window(): Uint8Array | null {
    return this.x === null ? null : this.x.window;
  }
  set window(v: Uint8Array | null) {
    if (v !== null || this.x !== null) this.more().window = v;
  }
  /** Sequence number just past the window's last byte (the window holds windowLen bytes before it). */
  get windowEndSeq(): number {
    return this.x === null ? 0 : this.x.windowEndSeq;
  }
  set windowEndSeq(v: number) {
    if (v !== 0 || this.x !== null) this.more().windowEndSeq = v;
  }
  get windowLen(): number {
    return this.x === null ? 0 : this.x.windowLen;
  }
  set windowLen(v: number) {
    if (v !== 0 || this.x !== null) this.more().windowLen = v;
  }
  /** Buffered bytes dropped at a RST (never acknowledged, never delivered). */
  get droppedBytes(): number {
    return this.x === null ? 0 : this.x.droppedBytes;
  }
  set droppedBytes(v: number) {
    if (v !== 0 || this.x !== null) this.more().droppedBytes = v;
  }

  count(kind: number): void {
    (this.counts ??= new Float64Array(STREAM_ANOMALY_NAMES.length))[kind]++;
    if (this === judged.half) judged.bits |= 1 << kind;
  }

  /** How often anomaly `name` was counted. */
  anomaly(name: StreamAnomalyName): number {
    return this.counts === null ? 0 : this.counts[STREAM_ANOMALY_NAMES.indexOf(name)];
  }

  /** Each gap in order (the first MAX_GAPS_LISTED); a shared empty list until there is one. */
  get gaps(): readonly Gap[] {
    return this.x?.gapList ?? NO_GAPS;
  }

  /** Conflicting overlaps with both versions (the first MAX_CONFLICTS). */
  get conflicts(): readonly Conflict[] {
    return this.x?.conflictList ?? NO_CONFLICTS;
  }

  /** Start the sequence space at `seq` (the first byte of data). */
  begin(seq: number, withSyn: boolean): void {
    this.started = true;
    this.nextSeq = seq;
    this.sentEnd = seq;
    this.startPending = true;
    this.pendingSkip = withSyn ? 0 : -1;
    if (!withSyn) {
      this.count(SA['missing-handshake']);
      this.flag(MID_STREAM, true);
      this.more().startSeq = seq;
    }
  }

  /** The direction began without its SYN: startSeq is its first byte, anything below it was never delivered. */
  get midStream(): boolean {
    return (this.bits & MID_STREAM) !== 0;
  }
  /** Where a mid-stream direction began (lowered by beforeStart). */
  get startSeq(): number {
    return this.x === null ? 0 : this.x.startSeq;
  }

  /**
   * `n` bytes from `seq` lie below where this mid-stream direction began: they arrived after the
   * stream had started, so they are never delivered. Counted (`before-start`), recorded as a gap
   * in front of the stream (offset 0), and the start moves down to `seq` so a copy of them later
   * is a retransmission.
   */
  beforeStart(seq: number, n: number): void {
    this.count(SA['before-start']);
    this.count(SA.gap);
    this.gapCount++;
    this.gapBytes += n;
    const list = (this.more().gapList ??= []);
    if (list.length < MAX_GAPS_LISTED) list.unshift({ offset: 0, length: n, cause: 'before-start' });
    this.more().startSeq = seq;
  }

  /** Skip bytes [nextSeq, seq) as a gap with `cause`. */
  skipTo(seq: number, cause: GapCause): void {
    const n = seqDiff(this.nextSeq, seq);
    if (n <= 0) return;
    const c: GapCause = this.truncHole && this.truncHoleSeq === this.nextSeq ? 'truncated' : cause;
    this.truncHole = false;
    this.recordGap(n, c);
    this.nextSeq = seq;
    if (this.pendingSkip >= 0) this.pendingSkip += n;
  }

  recordGap(length: number, cause: GapCause): void {
    this.count(SA.gap);
    if (cause === 'buffer-limit') this.count(SA['buffer-limit']);
    this.gapCount++;
    if (length > 0) this.gapBytes += length;
    const list = (this.more().gapList ??= []);
    if (list.length < MAX_GAPS_LISTED) list.push({ offset: this.delivered, length, cause });
  }

  recordConflict(seq: number, kept: Uint8Array, keptOff: number, other: Uint8Array, otherOff: number, n: number, frame: number): void {
    this.count(SA['conflicting-overlap']);
    const list = (this.more().conflictList ??= []);
    if (list.length >= MAX_CONFLICTS) return;
    const len = Math.min(n, MAX_CONFLICT_BYTES);
    list.push({
      seq: seq >>> 0,
      offset: this.delivered + Math.max(0, seqDiff(this.nextSeq, seq)),
      kept: kept.slice(keptOff, keptOff + len),
      other: other.slice(otherOff, otherOff + len),
      frame,
    });
  }

  /** Remembers delivered bytes in the window (only when the option gave this direction one). */
  remember(buf: Uint8Array, off: number, len: number, endSeq: number): void {
    const w = this.window;
    if (!w) return;
    const size = w.length;
    if (len >= size) {
      w.set(buf.subarray(off + len - size, off + len), 0);
      this.windowLen = size;
    } else {
      // shift left and append (windows are small; this path is opt-in)
      const keep = Math.min(this.windowLen, size - len);
      w.copyWithin(0, this.windowLen - keep, this.windowLen);
      w.set(buf.subarray(off, off + len), keep);
      this.windowLen = keep + len;
    }
    this.windowEndSeq = endSeq;
  }

  /**
   * Compares bytes that overlap delivered data with the window; records a conflict if they differ.
   * [seq, seq+len) must end at or before nextSeq.
   */
  checkDelivered(seq: number, buf: Uint8Array, off: number, len: number, frame: number): void {
    const w = this.window;
    if (!w || this.windowLen === 0) return;
    const winStart = seqAdd(this.windowEndSeq, -this.windowLen);
    let from = seqDiff(winStart, seq); // index in window of seq
    let o = off;
    let n = len;
    if (from < 0) {
      o -= from;
      n += from;
      from = 0;
    }
    n = Math.min(n, this.windowLen - from);
    for (let i = 0; i < n; i++) {
      if (w[from + i] !== buf[o + i]) {
        this.recordConflict(seqAdd(seq, o - off + i), w, from + i, buf, o + i, n - i, frame);
        return;
      }
    }
  }

  /** Summary of the anomalies for reports: name → count, non-zero only (read-only: it may be shared). */
  anomalyObject(): Record<string, number> {
    const c = this.counts;
    if (c === null) return NO_ANOMALIES;
    const o: Record<string, number> = {};
    for (let i = 0; i < c.length; i++) if (c[i] !== 0) o[STREAM_ANOMALY_NAMES[i]] = c[i];
    return o;
  }
}

/**
 * The direction of a connection that has not sent anything yet: one shared, frozen object per
 * direction (any write to it throws), replaced by a HalfConnection of its own when the direction
 * sends its first packet or acknowledges something (Connection.half). A SYN flood's connections
 * never pay for their silent side.
 */
export const UNUSED_HALVES: readonly [HalfConnection, HalfConnection] = [Object.freeze(new HalfConnection(0)) as HalfConnection, Object.freeze(new HalfConnection(1)) as HalfConnection];

/** `h` is a direction that has sent nothing (the shared stand-in). */
export function isUnused(h: HalfConnectionState): boolean {
  return h === UNUSED_HALVES[0] || h === UNUSED_HALVES[1];
}

/** Sequence number just past the page's bytes. */
export function pageEnd(p: Page): number {
  return seqAdd(p.seq, p.len);
}
