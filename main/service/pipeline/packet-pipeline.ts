/**
 * The one per-packet loop: decode, stamp the capture info (the capture's own frame number, time,
 * lengths), reassemble into whatever streams the factory makes, and close idle connections — on
 * capture time (checked once per capture second, before the packet that triggers it, so it does
 * not make its own connection look busy) or, live, on wall time when the host calls tick().
 * `weft flows`, `weft messages`, `weft capture`, `weft sniff` and the app's engine all run it.
 */
import { PacketDecoder, Transport, type DecodedPacket } from '../../engine/decode';
import type { UdpTable } from '../../engine/flows';
import type { CaptureFormatError, CapturedPacket, PacketSink } from '../../engine/formats';
import { Assembler, PIPELINE_PARK_SEC, StreamPool, type AssemblerContext, type AssemblerOptions, type CaptureInfo, type StreamFactory } from '../../engine/reassembly';
import { readCaptureFile, readCaptureStream, type ChunkSource, type ReadOptions } from '../../sources/capture-source';

export interface PipelineOptions {
  /** Close connections idle this many seconds (default 600): capture time, or wall time live. */
  idleSec?: number;
  /** 'capture' (files, pipes) or 'wall' (live): which clock decides idleness. */
  clock?: 'capture' | 'wall';
  assembler?: Partial<AssemblerOptions>;
}

/** AssemblerContext over the packet being assembled (one object, updated per packet). */
class PacketContext implements AssemblerContext {
  readonly ci: CaptureInfo = { tsSec: 0, tsNsec: 0, frame: 0, capLen: 0, origLen: 0 };
  captureInfo(): CaptureInfo {
    return this.ci;
  }
}

export class PacketPipeline implements PacketSink {
  readonly assembler: Assembler;
  readonly decoder = new PacketDecoder();
  private readonly ctx = new PacketContext();
  private readonly idle: number;
  private readonly wall: boolean;
  private nextFlush = -Infinity;
  packets = 0;
  tcpPackets = 0;
  /** Captured bytes of every packet. */
  bytes = 0;
  /**
   * The last packet decoded (the decoder's reused object: valid until the next packet). Set
   * before it is assembled, so streams can read it in accept().
   */
  last: DecodedPacket | null = null;

  constructor(factory: StreamFactory, opts: PipelineOptions = {}) {
    this.idle = opts.idleSec ?? 600;
    this.wall = opts.clock === 'wall';
    // Idle connections are parked, not cut: a packet that continues one resumes the same flow.
    this.assembler = new Assembler(new StreamPool(factory), { parkSec: PIPELINE_PARK_SEC, ...opts.assembler });
  }

  packet(p: CapturedPacket, shared = false): void {
    this.clock(p.tsSec, p.tsNsec);
    this.bytes += p.capLen;
    const d: DecodedPacket = this.decoder.decode(p);
    this.last = d;
    const t = d.transport;
    if (t !== Transport.TCP && (t !== Transport.UDP || this.udp === null)) return;
    if (shared && !this.owns!(d)) return;
    const ci = this.ctx.ci;
    ci.tsSec = p.tsSec;
    ci.tsNsec = p.tsNsec;
    ci.frame = p.frame;
    ci.capLen = p.capLen;
    ci.origLen = p.origLen;
    if (t === Transport.UDP) {
      this.udp!.packet(d, ci);
      return;
    }
    this.tcpPackets++;
    this.assembler.assemble(d, d, this.ctx);
  }

  /**
   * A packet of the capture goes by: it is counted, and on the capture clock the idle check runs
   * once per capture second, before the packet is decoded (so every packet of the capture moves
   * the clock, whatever it holds). A sharded worker calls passBy() for the packets another
   * worker decodes, so its clock and packet count are the capture's (shards/).
   */
  private clock(tsSec: number, tsNsec: number): void {
    this.packets++;
    if (!this.wall && tsSec >= this.nextFlush) {
      if (this.nextFlush !== -Infinity) this.flushIdle(tsSec + tsNsec / 1e9 - this.idle);
      this.nextFlush = tsSec + 1;
    }
  }

  /** A packet of the capture that is not this pipeline's to decode (another worker's): only the clock moves. */
  passBy(tsSec: number, tsNsec: number): void {
    this.clock(tsSec, tsNsec);
  }

  /**
   * Whole capture seconds before which passBy() does nothing but count (the next idle check);
   * a sharded worker counts the packets before it without calling (FlowPipeline adds its own).
   */
  get quietBeforeSec(): number {
    return this.wall ? Infinity : this.nextFlush;
  }

  /** And the packet of the capture before which it does (a FlowPipeline's after-close windows end by packet count too). */
  get quietUntilPacket(): number {
    return Infinity;
  }

  /**
   * For a packet given to several pipelines (`shared`: a sharded worker's copy of an IP fragment,
   * whose datagram's connection only its reassembly tells): whether the connection of what it
   * decoded to is this pipeline's.
   */
  owns: ((d: DecodedPacket) => boolean) | null = null;

  /** UDP conversations (weft flows lists them beside the TCP connections); null: not kept. */
  udp: UdpTable | null = null;

  private flushIdle(before: number): void {
    this.assembler.flushCloseOlderThan(before);
    this.udp?.flushIdle(before);
  }

  /** Live: closes connections idle on the wall clock (call from a timer). */
  tick(nowSec = Date.now() / 1000): void {
    this.flushIdle(nowSec - this.idle);
  }

  /**
   * End of input: every connection and conversation completes, in one order — their numbers —
   * whatever table holds them (a sharded worker streams what ends here in that order: results.ts).
   * `alsoBelow(id)` ends the caller's own waiting items numbered below id (FlowPipeline's flows
   * in their after-close window).
   */
  end(alsoBelow?: (id: number) => void): void {
    const udp = this.udp?.ending();
    this.assembler.flushAll(
      udp === undefined && alsoBelow === undefined
        ? undefined
        : (id) => {
            udp?.(id);
            alsoBelow?.(id);
          },
    );
    udp?.(Infinity);
    alsoBelow?.(Infinity);
  }
}

/**
 * Reads the inputs in order into `sink` as one capture (connections may continue from one file
 * into the next); "-" is standard input. Progress counts the bytes of all inputs read so far;
 * `onFile` is told when each input starts; `chunks` reads a file's or a stream's bytes into
 * memory of the caller's (a sharded run's ring). Returns each input's format error (with what
 * came before it delivered).
 */
export async function readInputs(
  files: string[],
  sink: PacketSink,
  read: ReadOptions = {},
  onFile?: (index: number, path: string) => void,
  chunks?: { file: ChunkSource; stream: (s: AsyncIterable<Uint8Array>) => AsyncIterable<Uint8Array> },
): Promise<CaptureFormatError[]> {
  const errors: CaptureFormatError[] = [];
  let before = 0;
  for (const [i, f] of files.entries()) {
    onFile?.(i, f);
    const opts: ReadOptions = read.onProgress ? { ...read, onProgress: (p) => read.onProgress!({ ...p, bytesDone: before + p.bytesDone }) } : read;
    const r = f === '-' ? await readCaptureStream('-', chunks ? chunks.stream(process.stdin) : process.stdin, sink, opts) : await readCaptureFile(f, sink, opts, chunks?.file);
    before += r.bytesDone;
    if (r.error) errors.push(r.error);
  }
  return errors;
}
