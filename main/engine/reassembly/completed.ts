/**
 * Completed streams: the simple reassembler people ask for. Feed it TCP packets; get back, as an
 * async iterator, each connection once it is done — on RST, on a FIN from both sides, or after
 * being idle for `idleSec` (default 10 minutes) — with both directions' bytes, timestamps, the
 * close reason and the anomalies.
 *
 *   const t = new CompletedStreamTracker();
 *   source.on(packet => t.packet(decoded, ci));  source.on(end => t.end());
 *   for await (const s of t) console.log(s.client, s.c2s.bytes.length, s.close);
 *
 * Idle time runs on capture time by default (files); with `clock: 'wall'` the host calls tick()
 * from a timer and wall time decides (live capture). Bytes are held per direction up to
 * `maxBytesPerDirection` (default 64 MiB); beyond that the direction is marked `truncated` and the
 * rest is counted, not kept. Completed streams wait in a queue until the iterator takes them.
 */
import { formatEndpoint } from '../decode/addr';
import type { TcpHeader } from '../decode/layers';
import { Assembler, type AssemblerOptions } from './assembler';
import type { Conflict, Gap } from './anomalies';
import { StreamPool } from './stream-pool';
import { copyCaptureInfo, type AssemblerContext, type CaptureInfo, type CloseReason, type ConnectionState, type NetFlow, type ScatterGather, type Stream, type TcpFlow, type TcpSegment } from './types';

export interface CompletedDirection {
  bytes: Uint8Array;
  /** Bytes delivered in all (may exceed bytes.length when truncated). */
  length: number;
  truncated: boolean;
  packets: number;
  gaps: Gap[];
  conflicts: Conflict[];
  anomalies: Record<string, number>;
}

export interface CompletedStream {
  id: number;
  client: string;
  server: string;
  directionInferred: boolean;
  firstSeen: { sec: number; nsec: number };
  lastSeen: { sec: number; nsec: number };
  close: CloseReason;
  c2s: CompletedDirection;
  s2c: CompletedDirection;
}

export interface CompletedStreamOptions {
  idleSec?: number;
  clock?: 'capture' | 'wall';
  maxBytesPerDirection?: number;
  assembler?: Partial<AssemblerOptions>;
}

class Collecting implements Stream {
  conn!: ConnectionState;
  readonly chunks: [Uint8Array[], Uint8Array[]] = [[], []];
  readonly held = [0, 0];
  readonly total = [0, 0];
  lastSec = 0;
  lastNsec = 0;

  constructor(
    private readonly owner: CompletedStreamTracker,
    readonly client: string,
    readonly server: string,
    private readonly max: number,
  ) {}

  attach(c: ConnectionState): void {
    this.conn = c;
  }

  accept(_t: TcpHeader, ci: CaptureInfo): boolean {
    this.lastSec = ci.tsSec;
    this.lastNsec = ci.tsNsec;
    return true;
  }

  reassembledSG(sg: ScatterGather): void {
    const dir = sg.info().dir;
    const [n] = sg.lengths();
    if (n === 0) return;
    this.total[dir] += n;
    const room = this.max - this.held[dir];
    if (room <= 0) return;
    const take = Math.min(n, room);
    const copy = new Uint8Array(take);
    let w = 0;
    sg.pieces((buf, off, len) => {
      const k = Math.min(len, take - w);
      if (k > 0) copy.set(buf.subarray(off, off + k), w);
      w += k;
    });
    this.chunks[dir].push(copy);
    this.held[dir] += take;
  }

  reassemblyComplete(_ctx: AssemblerContext, reason: CloseReason): boolean {
    this.owner.completed(this, reason);
    return true;
  }

  direction(d: 0 | 1): CompletedDirection {
    const h = this.conn.halves[d];
    const bytes = new Uint8Array(this.held[d]);
    let o = 0;
    for (const c of this.chunks[d]) {
      bytes.set(c, o);
      o += c.length;
    }
    this.chunks[d] = [];
    return {
      bytes,
      length: this.total[d],
      truncated: this.total[d] > this.held[d],
      packets: h.packets,
      gaps: [...h.gaps],
      conflicts: [...h.conflicts],
      anomalies: h.anomalyObject(),
    };
  }
}

export class CompletedStreamTracker implements AsyncIterable<CompletedStream> {
  readonly assembler: Assembler;
  private readonly queue: CompletedStream[] = [];
  private waiting: ((r: IteratorResult<CompletedStream>) => void) | null = null;
  private ended = false;
  private readonly idle: number;
  private readonly wall: boolean;
  private nextIdleCheck = -Infinity;
  private nextId = 1;
  private readonly ci: CaptureInfo = { tsSec: 0, tsNsec: 0, frame: 0, capLen: 0, origLen: 0 };
  private readonly ctx: AssemblerContext = { captureInfo: () => this.ci };

  constructor(opts: CompletedStreamOptions = {}) {
    this.idle = opts.idleSec ?? 600;
    this.wall = opts.clock === 'wall';
    const max = opts.maxBytesPerDirection ?? 64 * 1024 * 1024;
    const pool = new StreamPool({
      new: (net: NetFlow, f: TcpFlow) => {
        const client = formatEndpoint(net.ipVersion, f.senderIsClient ? net.src : net.dst, f.clientPort);
        const server = formatEndpoint(net.ipVersion, f.senderIsClient ? net.dst : net.src, f.serverPort);
        return new Collecting(this, client, server, max);
      },
    });
    this.assembler = new Assembler(pool, opts.assembler);
  }

  /** Feeds one TCP packet (a DecodedPacket is both arguments' shape) with its capture info. */
  packet(net: NetFlow, seg: TcpSegment, ci: CaptureInfo): void {
    if (this.ended) throw new Error('packet() after end()');
    copyCaptureInfo(this.ci, ci);
    if (!this.wall && ci.tsSec >= this.nextIdleCheck) {
      // before assembling, so this packet does not make its own connection look busy
      this.nextIdleCheck = ci.tsSec + 1;
      this.assembler.flushCloseOlderThan(ci.tsSec + ci.tsNsec / 1e9 - this.idle);
    }
    this.assembler.assemble(net, seg, this.ctx);
  }

  /** Live capture: closes connections idle by the wall clock (call it from a timer). */
  tick(nowSec = Date.now() / 1000): void {
    this.assembler.flushCloseOlderThan(nowSec - this.idle);
  }

  /** End of input: every remaining connection completes (close 'end-of-input'). */
  end(): void {
    if (this.ended) return;
    this.assembler.flushAll();
    this.ended = true;
    if (this.waiting && this.queue.length === 0) {
      const w = this.waiting;
      this.waiting = null;
      w({ done: true, value: undefined });
    }
  }

  /** Completed streams not yet taken by the iterator. */
  get pending(): number {
    return this.queue.length;
  }

  completed(s: Collecting, reason: CloseReason): void {
    const c = s.conn;
    const out: CompletedStream = {
      id: this.nextId++,
      client: s.client,
      server: s.server,
      directionInferred: c.directionInferred,
      firstSeen: { sec: c.firstSec, nsec: c.firstNsec },
      lastSeen: { sec: s.lastSec, nsec: s.lastNsec },
      close: reason,
      c2s: s.direction(0),
      s2c: s.direction(1),
    };
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w({ done: false, value: out });
    } else this.queue.push(out);
  }

  [Symbol.asyncIterator](): AsyncIterator<CompletedStream> {
    return {
      next: () => {
        const v = this.queue.shift();
        if (v) return Promise.resolve({ done: false, value: v });
        if (this.ended) return Promise.resolve({ done: true, value: undefined });
        return new Promise((r) => (this.waiting = r));
      },
    };
  }
}
