/**
 * A worker's reading of one batch of the ring (ring.ts): every record in order — its own packets
 * to decode, the others' for their time and place in the capture, live ticks, the app's ends of
 * input. The `weft` commands' workers (worker-main.ts) and the app's (session/app-worker.ts) read
 * batches this one way.
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { newCapturedPacket, type CapturedPacket } from '../../engine/formats';
import { EVERY_WORKER, INPUT_END, TICK, H_COUNT, H_NEW_SPILL, HEADER, IN_CHUNK, N_FILEOFF, N_SEC, R_CAPLEN, R_FILE, R_FRAME, R_IF, R_LINK, R_NSEC, R_OFFSET, R_ORIGLEN, R_SHARD, R_WHERE, REC_INTS, REC_NUMS, Slot, SLOTS, type RingMemory } from './ring';

/** What a worker runs the records of a batch through (PipelineTask, the app's EngineShard). */
export interface BatchTarget {
  /** The input the packet being read came from. */
  file: number;
  /** Packet `k` of the capture, this worker's (`shared`: every worker's, see EVERY_WORKER). */
  packet(k: number, p: CapturedPacket, shared: boolean): void;
  /** Packet `k` of the capture, another worker's: only the clock moves. */
  passBy(k: number, tsSec: number, tsNsec: number): void;
  /** A live capture's wall-clock tick. */
  tick(nowSec: number): void;
  /** The app's end of the current input (its queue of files emptied, its capture stopped): everything open ends. */
  inputEnd?(): void;
  /** Other workers' packets before this capture second and this packet change nothing but the count (PipelineTask). */
  readonly quietBeforeSec: number;
  readonly quietUntilPacket: number;
}

export class BatchReader {
  private readonly slots: Slot[];
  private readonly p = newCapturedPacket();
  /** Packets of the capture read so far (every worker's; those skipped as quiet too). */
  private k = 0;
  get packetsRead(): number {
    return this.k;
  }
  private quietSec = -Infinity;
  private quietPacket = -Infinity;

  constructor(
    ring: RingMemory,
    private readonly index: number,
    /** Where a slot's replaced spill memory comes ({slot, spill}), read synchronously when a batch says so. */
    private readonly spills: MessagePort,
  ) {
    this.slots = ring.slots.map((m) => new Slot(m));
  }

  /** Batch `seq` (published) through `target`. */
  read(seq: number, target: BatchTarget): void {
    const s = this.slots[seq % SLOTS];
    const ints = s.ints;
    const nums = s.nums;
    if (ints[H_NEW_SPILL] !== 0) {
      const m = receiveMessageOnPort(this.spills) as { message: { slot: number; spill: SharedArrayBuffer } } | undefined;
      if (m === undefined || m.message.slot !== seq % SLOTS) throw new Error(`batch ${seq} said its spill memory was replaced, but ${m === undefined ? 'none came' : `slot ${m.message.slot}'s came`}`);
      s.spill = new Uint8Array(m.message.spill);
    }
    const index = this.index;
    const p = this.p;
    const n = ints[H_COUNT];
    for (let i = 0; i < n; i++) {
      const o = HEADER + i * REC_INTS;
      const t = i * REC_NUMS;
      const shard = ints[o + R_SHARD];
      if (shard === TICK) target.tick(nums[t + N_SEC]);
      else if (shard === INPUT_END) target.inputEnd?.();
      else if (shard !== index && shard !== EVERY_WORKER) {
        this.k++;
        if (nums[t + N_SEC] < this.quietSec && this.k < this.quietPacket) continue;
        target.passBy(this.k, nums[t + N_SEC], ints[o + R_NSEC]);
      } else {
        this.k++;
        p.buf = ints[o + R_WHERE] === IN_CHUNK ? s.chunk : s.spill;
        p.offset = ints[o + R_OFFSET];
        p.capLen = ints[o + R_CAPLEN];
        p.origLen = ints[o + R_ORIGLEN] >>> 0;
        p.tsSec = nums[t + N_SEC];
        p.tsNsec = ints[o + R_NSEC];
        p.frame = ints[o + R_FRAME];
        p.linkType = ints[o + R_LINK];
        p.ifIndex = ints[o + R_IF];
        p.fileOffset = nums[t + N_FILEOFF];
        target.file = ints[o + R_FILE];
        target.packet(this.k, p, shard === EVERY_WORKER);
      }
      // until these, other workers' packets change nothing here but the count
      this.quietSec = target.quietBeforeSec;
      this.quietPacket = target.quietUntilPacket;
    }
  }
}
