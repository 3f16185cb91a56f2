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
 * waiting (docs/decisions.md). Memory is fixed: a slot per connection id modulo SLOTS (a newer
 * flow on a taken slot ends the older's window) and a ring of deadlines.
 */
import type { TCPFlowDirection } from '../reassembly';
import type { FlowAccumulator } from './flow';

/** Capture seconds, and packets of the capture, a FIN- or RST-closed flow waits at most for its packets after the close. */
export const LINGER_SEC = 2;
export const LINGER_PACKETS = 256;
const SLOTS = 1 << 16;
const MASK = SLOTS - 1;

export class AfterCloseWindow {
  private readonly slots: (FlowAccumulator | null)[] = new Array(SLOTS).fill(null);
  private readonly ringIds = new Int32Array(SLOTS);
  private readonly ringUntil = new Float64Array(SLOTS);
  private readonly ringUntilPacket = new Float64Array(SLOTS);
  private ringHead = 0;
  private ringCount = 0;

  constructor(private readonly done: (a: FlowAccumulator) => void) {}

  /** A flow completed at packet `packetNo` of the capture; FIN and RST closes wait for their packets after the close, others (idle, end of input, limit) are done at once. */
  closed(a: FlowAccumulator, packetNo: number): void {
    if (a.close !== 'fin' && a.close !== 'rst') return this.done(a);
    const s = a.id & MASK;
    const held = this.slots[s];
    if (held !== null) this.done(held);
    this.slots[s] = a;
    if (this.ringCount === SLOTS) this.expireOldest();
    const at = (this.ringHead + this.ringCount) & MASK;
    this.ringIds[at] = a.id;
    this.ringUntil[at] = a.conn.lastSec + a.conn.lastNsec / 1e9 + LINGER_SEC;
    this.ringUntilPacket[at] = packetNo + LINGER_PACKETS;
    this.ringCount++;
  }

  /** A packet a tombstone absorbed (Assembler.afterClose), packet `packetNo` of the capture at time `now`. Returns the flow when it counted, else null. */
  packet(id: number, dir: TCPFlowDirection, flags: number, payloadLength: number, now: number, packetNo: number): FlowAccumulator | null {
    this.advance(now, packetNo);
    const s = id & MASK;
    const a = this.slots[s];
    if (a === null || a.id !== id) return null;
    if (dir === 0) a.lateC2s++;
    else a.lateS2c++;
    return a;
  }

  /**
   * Ends the windows due by `now` (capture or wall seconds) or packet `packetNo`; Infinity ends
   * them all. Windows open in order, so only the oldest is looked at.
   */
  advance(now: number, packetNo: number): void {
    while (this.ringCount > 0 && (this.ringUntil[this.ringHead] <= now || this.ringUntilPacket[this.ringHead] <= packetNo)) this.expireOldest();
  }

  private expireOldest(): void {
    const id = this.ringIds[this.ringHead];
    this.ringHead = (this.ringHead + 1) & MASK;
    this.ringCount--;
    const s = id & MASK;
    const a = this.slots[s];
    if (a !== null && a.id === id) {
      this.slots[s] = null;
      this.done(a);
    }
  }
}
