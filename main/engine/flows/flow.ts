/**
 * The one flow model. Every consumer of connections — `weft flows`, export, `weft capture`, the
 * app's flow table — sees a TCP connection through a FlowAccumulator (the Stream the engine feeds)
 * and describes it with one type, Flow (DESIGN.md's `weft flows --json` shape). The CLI prints
 * Flows, the export writes them, the app's rows are views of them.
 *
 *   Assembler ──▶ FlowAccumulator (one per connection)  ──complete──▶ Flow (flowOf)
 *                   │  reads counters from the engine's ConnectionState (packets, bytes, gaps,
 *                   │  anomalies, times, endpoints: never counted twice)
 *                   │  keeps only what the engine does not: sha256 per direction, the first
 *                   │  bytes until the protocol is known, Zeek's flag history
 *                   └─▶ FlowListener: the delivered pieces (the app's spool, --follow), changes
 *                       (the app's dirty rows), the protocol once known, completion
 *
 * Cost (a connection should cost what it uses): an accumulator is one object of a few fields;
 * the first-bytes buffer is made when bytes arrive and dropped once detection decided, endpoint
 * strings only when a Flow is made. Hashing goes through a HashHost the service lends (the engine
 * links no Node module), the way protocol parsers borrow zlib.
 *
 * Hashing small directions in one go: most directions of a real capture are a few hundred bytes,
 * and an incremental hash object per direction (made at the first byte, finished at the close)
 * cost more than hashing those bytes. So a direction's bytes are first copied into a small buffer
 * of its own (at most PENDING_PER_DIRECTION) and hashed in one call when the flow completes; a
 * direction that outgrows it, or arrives while all pending buffers together hold
 * `pendingBudget` bytes, switches to an incremental hash fed what was pending. Memory stays
 * bounded (the budget), the digest is the same either way (a test compares both paths), and a
 * direction without bytes has the empty input's digest.
 */
import type { TcpHeader } from '../decode/layers';
import type { ProtocolPlugin } from '../protocols';
import type { AssemblerContext, CaptureInfo, CloseReason, ConnectionState, Gap, NetFlow, ScatterGather, Stream, StreamFactory, TCPFlowDirection, TcpFlow } from '../reassembly';
import { FirstBytes } from './first-bytes';
import { FlagHistory } from './flag-history';

export interface PerDirection<T> {
  c2s: T;
  s2c: T;
}

/** A finished (or, in the app, a running) TCP connection: what `weft flows --json` prints. */
export interface Flow {
  /** Connection number, in order of first packet (1-based). */
  id: number;
  /** Transport, as Zeek's conn.log names it. */
  proto: 'tcp';
  client: string;
  server: string;
  firstSeen: number;
  lastSeen: number;
  packets: PerDirection<number>;
  bytes: PerDirection<number>;
  sha256: PerDirection<string>;
  /** Bytes skipped (never seen). */
  gaps: PerDirection<number>;
  close: CloseReason;
  /** Longest quiet period (seconds) the connection was parked as idle and then continued; 0 if never. */
  quietSec: number;
  directionInferred: boolean;
  /** Anomaly counters, both directions added up (per direction in anomaliesByDirection). */
  anomalies: Record<string, number>;
  anomaliesByDirection: PerDirection<Record<string, number>>;
  /** Each gap: offset in the delivered stream, length, cause (first 1000 per direction). */
  gapList: PerDirection<Gap[]>;
  /** Conflicting overlaps recorded (with both versions) in both directions. */
  conflicts: number;
  protocol: string | null;
  ipVersion: number;
  vlan: number | null;
  /** Zeek's conn.log history letters (S, H, A, D, F, R; the client's upper case, the server's lower), first occurrence each. */
  history: string;
  /** Zeek's conn_state (S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR, OTH). */
  connState: string;
}

/** An incremental hash (sha256) the service lends the engine (node's Hash fits as it is). */
export interface IncrementalHash {
  update(bytes: Uint8Array): unknown;
  /** The digest as lowercase hex; the hash is finished. */
  digest(encoding: 'hex'): string;
}

export interface HashHost {
  sha256(): IncrementalHash;
  /** sha256 of `bytes` in one call, as lowercase hex. */
  sha256Hex(bytes: Uint8Array): string;
}

/** Bytes of one direction hashed in one call at the close rather than incrementally (see above). */
export const PENDING_PER_DIRECTION = 16 * 1024;

/** sha256 of no bytes: the digest of a direction that delivered nothing. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** What a consumer hears of a connection beyond its final Flow (each hook optional but complete). */
export interface FlowListener {
  /** A connection's first packet (the accumulator is attached to its connection). */
  opened?(f: FlowAccumulator): void;
  /** A piece of delivered bytes (a view, valid during the call) with the packet it came from. */
  piece?(f: FlowAccumulator, dir: TCPFlowDirection, buf: Uint8Array, off: number, len: number, ci: CaptureInfo): void;
  /** A whole delivery, as the engine handed it (for consumers that need skip and start/end). */
  delivery?(f: FlowAccumulator, sg: ScatterGather): void;
  /** A packet was accepted or bytes were delivered: the flow's numbers changed. */
  changed?(f: FlowAccumulator): void;
  /** The protocol is known (called at most once per connection). */
  protocol?(f: FlowAccumulator, name: string): void;
  /** The connection ended; the accumulator is forgotten by the engine after this returns. */
  complete(f: FlowAccumulator, reason: CloseReason): void;
}

/** A flow's hashing state, made when its first byte arrives (a flow without bytes has none). */
class HashState {
  /** Per direction: an incremental hash, or bytes waiting to be hashed in one go (see above). */
  h0: IncrementalHash | null = null;
  h1: IncrementalHash | null = null;
  p0: Uint8Array | null = null;
  p1: Uint8Array | null = null;
  n0 = 0;
  n1 = 0;
  /** The digests, made when the flow completes. */
  sha0 = EMPTY_SHA256;
  sha1 = EMPTY_SHA256;
}

/**
 * The accumulator is its own Zeek flag history (it extends FlagHistory rather than holding one:
 * one object fewer per connection); `flags` reads it as such.
 */
export class FlowAccumulator extends FlagHistory implements Stream {
  conn!: ConnectionState;
  private hs: HashState | null = null;
  /** Until the protocol is known or cannot be: the first bytes of each direction. */
  private first: FirstBytes | null = null;
  /** Both directions' first bytes matched no plugin. */
  private undetectable = false;
  protocol: string | null = null;
  close: CloseReason | null = null;
  /** Consumers' own state for this flow (the app's row index). */
  tag: unknown = null;
  /** Packets of each direction after the connection closed (its final ACK, late retransmissions), as the tombstone absorbed them. */
  lateC2s = 0;
  lateS2c = 0;

  constructor(private readonly owner: FlowFactory) {
    super();
  }

  /** Zeek's history letters and conn_state of the connection (this object). */
  get flags(): FlagHistory {
    return this;
  }

  attach(c: ConnectionState): void {
    this.conn = c;
    this.owner.listener.opened?.(this);
  }

  get id(): number {
    return this.conn.id;
  }

  accept(t: TcpHeader, _ci: CaptureInfo, dir: TCPFlowDirection): boolean {
    this.add(dir, t.flags, this.owner.payloadOfPacket());
    this.owner.listener.changed?.(this);
    return true;
  }

  /** Hashes (or keeps for hashing) `len` delivered bytes of `dir`. */
  hashBytes(dir: TCPFlowDirection, buf: Uint8Array, off: number, len: number): void {
    const o = this.owner;
    const s = (this.hs ??= new HashState());
    let h = dir === 0 ? s.h0 : s.h1;
    if (h === null) {
      const have = dir === 0 ? s.n0 : s.n1;
      let p = dir === 0 ? s.p0 : s.p1;
      const need = have + len;
      if (need <= PENDING_PER_DIRECTION) {
        const cap = p === null ? 0 : p.length;
        if (need <= cap || o.reserve(grown(cap, need) - cap)) {
          if (need > cap) {
            const q = o.take(grown(cap, need));
            if (p !== null) {
              q.set(p.subarray(0, have));
              o.give(p);
            }
            p = q;
            if (dir === 0) s.p0 = q;
            else s.p1 = q;
          }
          p!.set(buf.subarray(off, off + len), have);
          if (dir === 0) s.n0 = need;
          else s.n1 = need;
          return;
        }
      }
      // too much for one go (or the budget is spent): hash incrementally from here on
      h = o.hashes.sha256();
      if (p !== null) {
        h.update(p.subarray(0, have));
        o.give(p);
        o.release(p.length);
      }
      if (dir === 0) {
        s.h0 = h;
        s.p0 = null;
      } else {
        s.h1 = h;
        s.p1 = null;
      }
    }
    h.update(buf.subarray(off, off + len));
  }

  reassembledSG(sg: ScatterGather): void {
    const o = this.owner;
    const l = o.listener;
    const info = sg.info();
    const [total, kept] = sg.lengths();
    if (total - kept > 0) {
      // nothing calls keepFrom on this stream, so kept is 0 and every piece is new
      o.current = this;
      o.currentDir = info.dir;
      if (this.protocol === null && o.detect && this.first === null && !this.undetectable) this.first = o.takeFirstBytes();
      sg.pieces(o.piece);
      if (this.first !== null) this.detect();
    }
    l.delivery?.(this, sg);
    if (total - kept > 0) l.changed?.(this);
  }

  /** Names the protocol as soon as the first bytes tell (the app shows it while the flow is open). */
  private detect(): void {
    const f = this.first!;
    if (!f.ready) return;
    const p = f.detect(this.owner.plugins);
    if (p) this.found(p);
    if (p || f.full) {
      this.first = null;
      this.owner.giveFirstBytes(f);
      if (!p) this.undetectable = true;
    }
  }

  /** The first bytes of this delivered piece, while detection still wants them. */
  firstBytes(dir: TCPFlowDirection, buf: Uint8Array, off: number, len: number): void {
    this.first?.piece(dir, buf, off, len);
  }

  private found(p: ProtocolPlugin): void {
    this.protocol = p.name;
    this.owner.listener.protocol?.(this, p.name);
  }

  reassemblyComplete(_ctx: AssemblerContext, reason: CloseReason): boolean {
    const f = this.first;
    if (f !== null) {
      const p = f.detect(this.owner.plugins); // fewer bytes than detection waits for
      if (p) this.found(p);
      this.first = null;
      this.owner.giveFirstBytes(f);
    }
    this.close = reason;
    const hs = this.hs;
    if (hs !== null) {
      hs.sha0 = this.finishHash(0);
      hs.sha1 = this.finishHash(1);
    }
    this.owner.listener.complete(this, reason);
    return true;
  }

  /** The direction's digest: the incremental hash's, or its waiting bytes hashed in one go (their buffer recycled). */
  private finishHash(dir: TCPFlowDirection): string {
    const s = this.hs!;
    const h = dir === 0 ? s.h0 : s.h1;
    if (h !== null) return h.digest('hex');
    const p = dir === 0 ? s.p0 : s.p1;
    if (p === null) return EMPTY_SHA256;
    const hex = this.owner.hashes.sha256Hex(p.subarray(0, dir === 0 ? s.n0 : s.n1));
    this.owner.give(p);
    this.owner.release(p.length);
    if (dir === 0) s.p0 = null;
    else s.p1 = null;
    return hex;
  }

  /** The direction's sha256 (known once the flow is complete). */
  digest(dir: TCPFlowDirection): string {
    const s = this.hs;
    return s === null ? EMPTY_SHA256 : dir === 0 ? s.sha0 : s.sha1;
  }
}

/** A pending buffer's next size: doubling from 256 bytes, at least `need`, at most the per-direction cap. */
function grown(cap: number, need: number): number {
  let n = cap === 0 ? 256 : cap * 2;
  while (n < need) n *= 2;
  return Math.min(n, PENDING_PER_DIRECTION);
}

export interface FlowFactoryOptions {
  hashes: HashHost;
  listener: FlowListener;
  /** Protocols offered the first bytes (none: no detection). */
  plugins?: readonly ProtocolPlugin[];
  /** Bytes all flows' pending hash buffers may hold together (default 16 MiB). */
  pendingBudget?: number;
}

/** The StreamFactory that makes FlowAccumulators. */
export class FlowFactory implements StreamFactory {
  readonly hashes: HashHost;
  listener: FlowListener;
  readonly plugins: readonly ProtocolPlugin[] | undefined;
  readonly detect: boolean;
  /** The payload length of the packet being assembled (the pipeline driving the engine sets this). */
  payloadOfPacket: () => number = () => 0;
  private readonly budget: number;
  /** Bytes the pending hash buffers hold now. */
  pending = 0;
  /** The delivery being hashed: one function for every accumulator (none is made per flow). */
  current: FlowAccumulator | null = null;
  currentDir: TCPFlowDirection = 0;
  readonly piece = (buf: Uint8Array, off: number, len: number, ci: CaptureInfo): void => {
    const f = this.current!;
    f.hashBytes(this.currentDir, buf, off, len);
    f.firstBytes(this.currentDir, buf, off, len);
    this.listener.piece?.(f, this.currentDir, buf, off, len, ci);
  };

  constructor(o: FlowFactoryOptions) {
    this.hashes = o.hashes;
    this.listener = o.listener;
    this.plugins = o.plugins;
    this.detect = o.plugins === undefined || o.plugins.length > 0;
    this.budget = o.pendingBudget ?? 16 << 20;
  }

  new(_net: NetFlow, _tcpFlow: TcpFlow, _tcp: TcpHeader): Stream {
    return new FlowAccumulator(this);
  }

  /** Takes `n` bytes of the pending budget, or says there are none left. */
  reserve(n: number): boolean {
    if (this.pending + n > this.budget) return false;
    this.pending += n;
    return true;
  }

  release(n: number): void {
    this.pending -= n;
  }

  /**
   * Pending buffers are recycled by size (256 B … PENDING_PER_DIRECTION, powers of two): a typed
   * array of that size is a backing store of its own, which cost more to make than the hashing.
   * At most FREE_BYTES wait for reuse.
   */
  private readonly free: Uint8Array[][] = [];
  private freeBytes = 0;

  /** First-bytes buffers are recycled too (each is a 128-byte backing store). */
  private readonly freeFirst: FirstBytes[] = [];

  takeFirstBytes(): FirstBytes {
    return this.freeFirst.pop() ?? new FirstBytes();
  }

  giveFirstBytes(f: FirstBytes): void {
    if (this.freeFirst.length >= FREE_FIRST) return;
    f.reset();
    this.freeFirst.push(f);
  }

  take(size: number): Uint8Array {
    const list = this.free[Math.log2(size)];
    const b = list?.pop();
    if (b === undefined) return new Uint8Array(size);
    this.freeBytes -= size;
    return b;
  }

  give(b: Uint8Array): void {
    if (this.freeBytes + b.length > FREE_BYTES) return;
    (this.free[Math.log2(b.length)] ??= []).push(b);
    this.freeBytes += b.length;
  }
}

const FREE_BYTES = 4 << 20;
/** FirstBytes kept for reuse at most. */
const FREE_FIRST = 4096;

/**
 * Both directions' anomaly counters added up: the client's kinds in name order, then the server's
 * others (the order flow JSON prints). May return `a` itself (anomalyObject gives fresh objects,
 * or one shared empty object for a clean direction): read-only.
 */
export function addAnomalies(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  let sum = a;
  for (const k in b) {
    if (sum === a) sum = { ...a };
    sum[k] = (sum[k] ?? 0) + b[k];
  }
  return sum;
}

const NO_GAPS: Gap[] = Object.freeze([]) as unknown as Gap[];

/** A copy of a gap list (a clean direction shares one frozen empty list). */
function listOf(gaps: readonly Gap[]): Gap[] {
  return gaps.length === 0 ? NO_GAPS : [...gaps];
}

/**
 * The Flow of a completed accumulator. Its objects are read-only by contract: a clean direction's
 * anomalies and gap list are shared empty (frozen) values.
 */
export function flowOf(f: FlowAccumulator): Flow {
  if (f.close === null) throw new Error(`flowOf: connection ${f.id} is still open`);
  const c = f.conn;
  const [h0, h1] = c.halves;
  const byDir = { c2s: h0.anomalyObject(), s2c: h1.anomalyObject() };
  const anomalies = addAnomalies(byDir.c2s, byDir.s2c);
  return {
    id: c.id,
    proto: 'tcp',
    client: c.client,
    server: c.server,
    firstSeen: c.firstSec + c.firstNsec / 1e9,
    lastSeen: c.lastSec + c.lastNsec / 1e9,
    packets: { c2s: h0.packets + f.lateC2s, s2c: h1.packets + f.lateS2c },
    bytes: { c2s: h0.delivered, s2c: h1.delivered },
    sha256: { c2s: f.digest(0), s2c: f.digest(1) },
    gaps: { c2s: h0.gapBytes, s2c: h1.gapBytes },
    close: f.close,
    quietSec: Math.max(h0.longestQuietSec, h1.longestQuietSec),
    directionInferred: c.directionInferred,
    anomalies,
    anomaliesByDirection: byDir,
    gapList: { c2s: listOf(h0.gaps), s2c: listOf(h1.gaps) },
    conflicts: h0.conflicts.length + h1.conflicts.length,
    protocol: f.protocol,
    ipVersion: c.ipVersion,
    vlan: c.vlan >= 0 ? c.vlan : null,
    history: f.flags.history,
    connState: f.flags.state(),
  };
}
