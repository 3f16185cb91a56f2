/**
 * The packets of a connection after it closed — its final ACK, a duplicate of it, a packet after
 * a RST — are absorbed by its tombstone (the Assembler tells `afterClose`); tshark counts them in
 * the conversation. AfterCloseWindow decides, the same way for `weft flows` and the app, until
 * when they count: for LINGER_SEC of capture time or LINGER_PACKETS packets of the capture after
 * the close, whichever ends first; then `done` is told (the CLI reports the flow then).
 *
 * Holding every closed flow for the tombstone's whole time would count the rarer later packets
 * too, but kept tens of thousands of flows alive on captures of many small connections and made
 * `weft flows` 80 % slower there; the packet bound keeps a busy capture to a few dozen flows
 * waiting (docs/decisions.md). Memory is bounded: the flows waiting by id, and a ring of their
 * deadlines (SLOTS; a flow can only close on a packet of its own, so LINGER_PACKETS bounds it).
 */
import type { TCPFlowDirection } from '../reassembly';
import type { FlowAccumulator } from './flow';
import { inNumberOrder } from '../util/number-order';

/** Capture seconds, and packets of the capture, a FIN- or RST-closed flow waits at most for its packets after the close. */
export const LINGER_SEC = 2;
export const LINGER_PACKETS = 256;
const SLOTS = 1 << 16;
const MASK = SLOTS - 1;

export class AfterCloseWindow {
  /** The flows waiting, by connection id. */
  private readonly held = new Map<number, FlowAccumulator>();
  private readonly ringIds = new Int32Array(SLOTS);
  private readonly ringUntil = new Float64Array(SLOTS);
  private readonly ringUntilPacket = new Float64Array(SLOTS);
  private ringHead = 0;
  private ringCount = 0;
  /** The earliest time deadline in the ring (a capture whose time goes backwards can put it anywhere). */
  private soonest = Infinity;

  constructor(private readonly done: (a: FlowAccumulator) => void) {}

  /** A flow completed at packet `packetNo` of the capture; FIN and RST closes wait for their packets after the close, others (idle, end of input, limit) are done at once. */
  closed(a: FlowAccumulator, packetNo: number): void {
    if (a.close !== 'fin' && a.close !== 'rst') return this.done(a);
    const before = this.held.get(a.id);
    if (before !== undefined) this.done(before);
    this.held.set(a.id, a);
    if (this.ringCount === SLOTS) this.expire(this.ringHead);
    const at = (this.ringHead + this.ringCount) & MASK;
    const until = a.conn.lastSec + a.conn.lastNsec / 1e9 + LINGER_SEC;
    this.ringIds[at] = a.id;
    this.ringUntil[at] = until;
    this.ringUntilPacket[at] = packetNo + LINGER_PACKETS;
    this.ringCount++;
    if (until < this.soonest) this.soonest = until;
  }

  /** A packet a tombstone absorbed (Assembler.afterClose), packet `packetNo` of the capture at time `now`. Returns the flow when it counted, else null. */
  packet(id: number, dir: TCPFlowDirection, flags: number, payloadLength: number, now: number, packetNo: number): FlowAccumulator | null {
    this.advance(now, packetNo);
    const a = this.held.get(id);
    if (a === undefined) return null;
    if (dir === 0) a.lateC2s++;
    else a.lateS2c++;
    return a;
  }

  /**
   * Ends the windows due by `now` (capture or wall seconds) or packet `packetNo`; Infinity ends
   * them all. Each window ends at the first packet past either of its own deadlines, whatever
   * the other flows waiting (so a sharded worker, holding some of them, ends each where one
   * thread would): packet deadlines come in ring order, so only the oldest is looked at for
   * them; time deadlines are in order too unless the capture's time went backwards, so the ring
   * is searched only when the soonest of them is due.
   */
  advance(now: number, packetNo: number): void {
    while (this.ringCount > 0 && this.ringUntilPacket[this.ringHead] <= packetNo) this.expire(this.ringHead);
    if (now < this.soonest) return;
    while (this.ringCount > 0 && this.ringUntil[this.ringHead] <= now) this.expire(this.ringHead);
    let soonest = Infinity;
    // rare: a deadline due behind one that is not (time went backwards); end it and close the ring up
    let kept = 0;
    for (let i = 0; i < this.ringCount; i++) {
      const at = (this.ringHead + i) & MASK;
      if (this.ringUntil[at] <= now) {
        this.finish(this.ringIds[at]);
        continue;
      }
      const until = this.ringUntil[at];
      const to = (this.ringHead + kept++) & MASK;
      if (to !== at) {
        this.ringIds[to] = this.ringIds[at];
        this.ringUntil[to] = until;
        this.ringUntilPacket[to] = this.ringUntilPacket[at];
      }
      if (until < soonest) soonest = until;
    }
    this.ringCount = kept;
    this.soonest = soonest;
  }

  /** Until this packet of the capture and `quietBefore` seconds, advance() ends nothing (a sharded worker skips other workers' packets up to there). */
  get quietUntilPacket(): number {
    return this.ringCount > 0 ? this.ringUntilPacket[this.ringHead] : Infinity;
  }
  get quietBefore(): number {
    return this.soonest;
  }

  /**
   * End of input (no packet follows): ends every window, in number order, as far as the returned
   * function is told — `below(id)` those of flows numbered below id, below(Infinity) the rest.
   */
  endingBelow(): (below: number) => void {
    const end = inNumberOrder(
      [...this.held.keys()],
      (id) => id,
      (id) => this.finish(id),
    );
    return (below) => {
      end(below);
      if (below === Infinity) {
        this.ringCount = 0;
        this.soonest = Infinity;
      }
    };
  }

  /** Ends the window at ring position `at` (the head). */
  private expire(at: number): void {
    const id = this.ringIds[at];
    this.ringHead = (this.ringHead + 1) & MASK;
    this.ringCount--;
    this.finish(id);
  }

  private finish(id: number): void {
    const a = this.held.get(id);
    if (a !== undefined) {
      this.held.delete(id);
      this.done(a);
    }
  }
}
