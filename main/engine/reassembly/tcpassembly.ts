/**
 * The older gopacket contract, `tcpassembly`: a Stream per direction receives
 * `reassembled(Reassembly[])` — pieces of data in order, each with bytes, skip, start, end and the
 * time it was seen — then `reassemblyComplete()` once. Built on the same engine: each delivery's
 * pieces become Reassembly objects.
 *
 * Reuse, as in gopacket: the array and its objects are reused after the call, and `bytes` are
 * views into capture chunks and pages. Copy what you keep.
 */
import type { TcpHeader } from '../decode/layers';
import type { AssemblerContext, CaptureInfo, CloseReason, NetFlow, ScatterGather, Stream, StreamFactory, TCPFlowDirection, TcpFlow } from './types';

export interface Reassembly {
  bytes: Uint8Array;
  /** Bytes skipped before this piece (−1: unknown, the direction started mid-stream). */
  skip: number;
  /** First piece of the direction. */
  start: boolean;
  /** Last piece of the direction. */
  end: boolean;
  /** When the piece's packet was captured: seconds and nanoseconds. */
  seenSec: number;
  seenNsec: number;
}

/** One direction of a connection, tcpassembly style. */
export interface ReassemblyStream {
  reassembled(rs: readonly Reassembly[]): void;
  reassemblyComplete(): void;
}

export interface ReassemblyStreamFactory {
  /** `net` and `transport` describe the direction (sender first), as gopacket's New(net, transport). */
  "new"(net: { src: Uint8Array; dst: Uint8Array; ipVersion: number }, transport: { srcPort: number; dstPort: number }, dir: TCPFlowDirection): ReassemblyStream;
}

const EMPTY = new Uint8Array(0);

class DirectionPair implements Stream {
  private readonly list: Reassembly[] = [];
  private count = 0;
  private dir: TCPFlowDirection = 0;
  private first = true;
  private sg!: ScatterGather;

  constructor(readonly halves: [ReassemblyStream, ReassemblyStream]) {}

  accept(): boolean {
    return true;
  }

  private readonly onPiece = (buf: Uint8Array, off: number, len: number, ci: CaptureInfo): void => {
    let r = this.list[this.count];
    if (!r) {
      r = { bytes: EMPTY, skip: 0, start: false, end: false, seenSec: 0, seenNsec: 0 };
      this.list.push(r);
    }
    const info = this.sg.info();
    r.bytes = buf.subarray(off, off + len);
    r.skip = this.first ? info.skip : 0;
    r.start = this.first && info.start;
    r.end = false;
    r.seenSec = ci.tsSec;
    r.seenNsec = ci.tsNsec;
    this.first = false;
    this.count++;
  };

  reassembledSG(sg: ScatterGather, ctx: AssemblerContext): void {
    this.sg = sg;
    this.count = 0;
    this.first = true;
    const info = sg.info();
    this.dir = info.dir;
    sg.pieces(this.onPiece);
    // an end with no bytes: an empty piece stamped with the packet that ended the direction
    if (this.count === 0 && info.end) this.onPiece(EMPTY, 0, 0, ctx.captureInfo());
    if (this.count > 0) this.list[this.count - 1].end = info.end;
    const view = this.count === this.list.length ? this.list : this.list.slice(0, this.count);
    this.halves[this.dir].reassembled(view);
  }

  reassemblyComplete(_ctx: AssemblerContext, _reason: CloseReason): boolean {
    this.halves[0].reassemblyComplete();
    this.halves[1].reassemblyComplete();
    return true;
  }
}


/** Adapts a tcpassembly-style factory to the Assembler's StreamFactory. */
export function tcpassemblyFactory(f: ReassemblyStreamFactory): StreamFactory {
  return {
    new(net: NetFlow, tcpFlow: TcpFlow, tcp: TcpHeader): Stream {
      // copies: the decoder reuses its address arrays for the next packet
      const len = net.ipVersion === 6 ? 16 : 4;
      const client = (tcpFlow.senderIsClient ? net.src : net.dst).slice(0, len);
      const server = (tcpFlow.senderIsClient ? net.dst : net.src).slice(0, len);
      void tcp;
      const c2s = f.new({ src: client, dst: server, ipVersion: net.ipVersion }, { srcPort: tcpFlow.clientPort, dstPort: tcpFlow.serverPort }, 0);
      const s2c = f.new({ src: server, dst: client, ipVersion: net.ipVersion }, { srcPort: tcpFlow.serverPort, dstPort: tcpFlow.clientPort }, 1);
      return new DirectionPair([c2s, s2c]);
    },
  };
}
