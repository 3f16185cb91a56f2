/**
 * A readable stream per direction (gopacket's tcpreader.ReaderStream, as WHATWG ReadableStreams
 * so the engine stays free of node:*): each connection gives the consumer two
 * ReadableStream<Uint8Array>, client→server and server→client, of the reassembled bytes.
 *
 * Bytes are copied into the streams (the engine's views are reused). Gaps cannot travel inside a
 * byte stream: they are listed on the connection (`gaps`), never written as bytes.
 *
 * Back-pressure: the engine is push-based and cannot block, so a consumer that reads slower than
 * the capture is read must make the input wait: `ready()` resolves when every open stream is below
 * its high-water mark; a file source awaits it between chunks (ReadOptions.afterChunk).
 */
import type { TcpHeader } from '../decode/layers';
import { formatEndpoint } from '../decode/addr';
import { copyBytes } from '../util/bytes';
import type { Gap } from './anomalies';
import type { AssemblerContext, CloseReason, ConnectionState, NetFlow, ScatterGather, Stream, StreamFactory, TcpFlow } from './types';

export interface ReaderConnection {
  client: string;
  server: string;
  c2s: ReadableStream<Uint8Array>;
  s2c: ReadableStream<Uint8Array>;
  /** Gaps per direction, filled in as the connection goes on (final once `closed` resolves). */
  gaps: { c2s: readonly Gap[]; s2c: readonly Gap[] };
  /** Resolves with the close reason once both streams are closed. */
  closed: Promise<CloseReason>;
}

interface Half {
  controller: ReadableStreamDefaultController<Uint8Array>;
  open: boolean;
  waiters: (() => void)[];
}

class ReaderStream implements Stream {
  readonly halves: [Half, Half];
  conn: ConnectionState | null = null;
  private resolveClosed!: (r: CloseReason) => void;
  readonly info: ReaderConnection;

  constructor(client: string, server: string, highWaterMark: number) {
    const mk = (): [ReadableStream<Uint8Array>, Half] => {
      const half = { open: true, waiters: [] } as unknown as Half;
      const rs = new ReadableStream<Uint8Array>(
        {
          start: (c) => {
            half.controller = c;
          },
          pull: () => {
            const w = half.waiters.splice(0);
            for (const f of w) f();
          },
          cancel: () => {
            half.open = false;
          },
        },
        { highWaterMark, size: (chunk) => chunk.length },
      );
      return [rs, half];
    };
    const [c2s, h0] = mk();
    const [s2c, h1] = mk();
    this.halves = [h0, h1];
    const gaps = { c2s: [] as Gap[], s2c: [] as Gap[] };
    this.info = {
      client,
      server,
      c2s,
      s2c,
      gaps,
      closed: new Promise<CloseReason>((r) => (this.resolveClosed = r)),
    };
  }

  attach(c: ConnectionState): void {
    this.conn = c;
    // live views: a direction's gap list is made at its first gap
    this.info.gaps = {
      get c2s() {
        return c.halves[0].gaps;
      },
      get s2c() {
        return c.halves[1].gaps;
      },
    };
  }

  accept(): boolean {
    return true;
  }

  reassembledSG(sg: ScatterGather): void {
    const i = sg.info();
    const h = this.halves[i.dir];
    const [n] = sg.lengths();
    if (h.open && n > 0) h.controller.enqueue(copyBytes(sg.fetch(n)));
    if (i.end) this.close(h);
  }

  private close(h: Half): void {
    if (!h.open) return;
    h.open = false;
    h.controller.close();
    const w = h.waiters.splice(0);
    for (const f of w) f();
  }

  reassemblyComplete(_ctx: AssemblerContext, reason: CloseReason): boolean {
    this.close(this.halves[0]);
    this.close(this.halves[1]);
    this.resolveClosed(reason);
    return true;
  }

  /** A promise for when this stream's halves are below their high-water marks, or null if they are. */
  waitIfFull(): Promise<void> | null {
    for (const h of this.halves) {
      if (h.open && (h.controller.desiredSize ?? 1) <= 0) return new Promise<void>((r) => h.waiters.push(r));
    }
    return null;
  }
}

export class ReaderStreamFactory implements StreamFactory {
  private readonly live = new Set<ReaderStream>();

  /**
   * @param onConnection called with each new connection's two streams
   * @param highWaterMark bytes each direction may queue before ready() waits (default 1 MiB)
   */
  constructor(
    private readonly onConnection: (c: ReaderConnection) => void,
    private readonly highWaterMark = 1 << 20,
  ) {}

  new(net: NetFlow, tcpFlow: TcpFlow, tcp: TcpHeader): Stream {
    void tcp;
    const client = formatEndpoint(net.ipVersion, tcpFlow.senderIsClient ? net.src : net.dst, tcpFlow.clientPort);
    const server = formatEndpoint(net.ipVersion, tcpFlow.senderIsClient ? net.dst : net.src, tcpFlow.serverPort);
    const s = new ReaderStream(client, server, this.highWaterMark);
    this.live.add(s);
    void s.info.closed.then(() => this.live.delete(s));
    this.onConnection(s.info);
    return s;
  }

  /** Resolves when no open direction is over its high-water mark (await between input chunks). */
  async ready(): Promise<void> {
    for (;;) {
      let wait: Promise<void> | null = null;
      for (const s of this.live) {
        wait = s.waitIfFull();
        if (wait) break;
      }
      if (!wait) return;
      await wait;
    }
  }
}
