/**
 * An engine worker's work (worker-main.ts): a packet pipeline for the packets given to it, its
 * clock moved by everyone else's, and what it made gathered for the merger (results.ts). The
 * tasks — `weft flows` (flows-task.ts), `weft messages` (messages-task.ts), `weft export`'s
 * second pass (export-task.ts) — say what the pipeline is and what an item is.
 */
import type { CapturedPacket } from '../../engine/formats';
import type { PacketPipeline } from '../pipeline/packet-pipeline';
import { ownedBy } from './ring';
import { ResultWriter, type ShardResult } from './results';

export abstract class PipelineTask<P extends PacketPipeline = PacketPipeline, F = unknown> {
  /** The capture packet index being read (Infinity once the input ended). */
  protected k = 0;
  protected readonly out = new ResultWriter<F>();
  private seenIds = 1;
  /** The input the packet being read came from (0, 1, …). */
  file = 0;
  /** The first number the packet being read may take (a connection created now has firstId + its order among this packet's). */
  protected firstId = 1;

  constructor(
    protected readonly pipe: P,
    index: number,
    workers: number,
  ) {
    // a packet every worker is given (an IP fragment that may hold a tunnel) is kept by the worker of its innermost pair
    pipe.owns = ownedBy(index, workers);
  }

  /** Packet `k` of the capture, this worker's to decode (`shared`: every worker's, see EVERY_WORKER). */
  packet(k: number, p: CapturedPacket, shared: boolean): void {
    this.k = k;
    this.pipe.packets = k - 1;
    this.firstId = this.seenIds;
    this.pipe.packet(p, shared);
    for (const next = this.pipe.assembler.pool.newId(); this.seenIds < next; this.seenIds++) this.out.created(k);
  }

  /** Packet `k` of the capture, another worker's: only the clock moves. */
  passBy(k: number, tsSec: number, tsNsec: number): void {
    this.k = k;
    this.pipe.packets = k - 1;
    this.pipe.passBy(tsSec, tsNsec);
  }

  /** A live capture's wall-clock tick: connections idle by `nowSec` close (the items made are the current packet's). */
  tick(nowSec: number): void {
    this.pipe.tick(nowSec);
  }

  /**
   * Other workers' packets before capture second `quietBeforeSec` and before packet
   * `quietUntilPacket` change nothing here but the count: the worker skips them without a call
   * (passing each by was a tenth of a worker's time).
   */
  get quietBeforeSec(): number {
    return this.pipe.quietBeforeSec;
  }
  get quietUntilPacket(): number {
    return this.pipe.quietUntilPacket;
  }

  /** Memory of results merged already, for the next ones (results.ts' BufferPool). */
  reuse(bufs: ArrayBuffer[]): void {
    this.out.reuse(bufs);
  }

  /** What the batch made. */
  take(seq: number): ShardResult<F> {
    return this.out.take(seq);
  }

  /**
   * End of input: everything ends, in number order, sent in parts of about `partBytes` of text
   * (`post`); returns the last part, with the task's counts.
   */
  end(seq: number, post: (part: ShardResult<F>) => void, partBytes: number): ShardResult<F> {
    this.k = Infinity;
    this.out.partBytes = partBytes;
    this.out.full = () => post(this.out.take(seq, true));
    this.pipe.end();
    this.out.full = null;
    return this.out.take(seq, true, true, this.counts());
  }

  protected counts(): Record<string, number> {
    return { tcpPackets: this.pipe.tcpPackets };
  }
}
