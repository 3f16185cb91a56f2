/**
 * Assembler: takes TCP packets in capture order and hands each connection's Stream its bytes in
 * sequence order, per direction (gopacket's `reassembly.Assembler`; see types.ts for the call
 * order a Stream can rely on).
 *
 * Who calls it: whoever decodes packets, once per TCP packet, synchronously:
 *   assembler.assemble(decoded, decoded, ctx)     // DecodedPacket is both NetFlow and TcpSegment
 * and, from time to time, flushWithOptions / flushCloseOlderThan (idle connections) and flushAll()
 * at the end of input.
 *
 * Cost: in-order data is delivered from the packet's own bytes (no copy, nothing allocated); only
 * out-of-order bytes are copied, into pages. Limits: `maxBufferedPagesPerConnection` and
 * `maxBufferedPagesTotal` (non-zero by default). When one is hit, the connection being fed skips
 * its first hole (a gap with cause `buffer-limit`) and delivers what is then in order, until it is
 * within budget again: memory stays bounded whatever the traffic. `maxConnections` bounds the
 * table the same way (Suricata's flow memcap): a new connection that would pass it first closes
 * the least recently active one, with reason `limit` (its waiting bytes delivered past their holes
 * as `buffer-limit` gaps), counted in `stats.connectionsLimited`; its key is tombstoned, so what
 * it still sends is absorbed rather than reported as new connections.
 *
 * Semantics decided in ../shared/DESIGN.md: first-copy-wins overlaps by default; gaps are metadata;
 * a hole the peer has acknowledged is skipped (cause `not-captured`) when the next segment beyond
 * it arrives — an ACK counting only as far as the capture had seen its bytes' direction, and never
 * for the hole that segment itself fills (docs/decisions.md, "Acknowledged holes"); FIN takes effect at
 * its sequence position; RST closes at once; mid-stream starts deliver at once with skip −1.
 */
import { TcpFlags, type TcpHeader } from '../decode/layers';
import { SA, type GapCause } from './anomalies';
import { HalfConnection, isUnused, judged } from './half-connection';
import type { PageCache } from './page-cache';
import { insertSegment, targetBased, type OverlapPolicy } from './segments';
import { Delivery } from './delivery';
import { flushEverything, flushIdle, type FlushCounts, type Flushing } from './flushing';
import { seqAdd, seqDiff } from './sequence';
import { Connection, StreamPool, type CloseReason, type Found } from './stream-pool';
import { type AssemblerContext, type CaptureInfo, type FlushOptions, type NetFlow, type TCPFlowDirection, type TcpFlow, type TcpSegment } from './types';

export interface AssemblerOptions {
  /** Pages (PAGE_SIZE bytes each) of out-of-order data at which a connection skips its first hole (gopacket: reaching the limit flushes). */
  maxBufferedPagesPerConnection: number;
  /** Pages all connections of the pool may hold together (the pool's assemblers share them). */
  maxBufferedPagesTotal: number;
  /** Overlap policy for bytes still buffered: the first copy wins, the last, or a target OS's rule (segments.ts). */
  overlapPolicy: OverlapPolicy;
  /**
   * The policy of the host receiving a direction (target-based reassembly: what that host's TCP
   * keeps of overlapping bytes), when it is not `overlapPolicy`: given the connection and the
   * direction, asked only when bytes overlap held ones. null: `overlapPolicy` for everyone.
   */
  policyFor: ((conn: Connection, dir: TCPFlowDirection) => OverlapPolicy | null) | null;
  /** Bytes of recently delivered data kept per direction to spot conflicting retransmissions (0: off). */
  deliveredWindow: number;
  /** Capture seconds a FIN/RST-closed connection's key absorbs late packets. */
  tombstoneSec: number;
  /** Skip a hole as soon as the peer acknowledges past it (DESIGN.md); false waits for a flush. */
  skipAcknowledgedHoles: boolean;
  /** Open connections the pool holds at most; past it the least recently active closes (`limit`). */
  maxConnections: number;
  /**
   * Capture seconds an idle connection stays parked after an idle flush, waiting for a packet that
   * continues its sequence space (which resumes it: one flow, its quiet period recorded) before it
   * ends as `idle`. 0: an idle flush ends connections at once.
   */
  parkSec: number;
}

export const DEFAULT_ASSEMBLER_OPTIONS: AssemblerOptions = {
  maxBufferedPagesPerConnection: 4096, // ~7.4 MiB
  maxBufferedPagesTotal: 16384, // ~30 MiB
  overlapPolicy: 'first',
  policyFor: null,
  deliveredWindow: 0,
  tombstoneSec: 120,
  skipAcknowledgedHoles: true,
  maxConnections: 150_000,
  parkSec: 0, // gopacket's contract: FlushCloseOlderThan closes (the service's pipelines park: PIPELINE_PARK_SEC)
};

/** How long the service's pipelines park idle connections: past TCP's default keepalive interval (2 h), so kept-alive connections resume. */
export const PIPELINE_PARK_SEC = 3 * 3600;

/** How far (bytes) a packet's sequence or acknowledgement number may sit from where its parked connection left off. */
const RESUME_WINDOW = 1 << 20;

const { FIN, SYN, RST, ACK } = TcpFlags;

/** Counters over the assembler's life (gopacket: TCPAssemblyStats, plus ours). */
export interface AssemblerStats {
  packets: number;
  connectionsCreated: number;
  connectionsClosed: number;
  ignoredByStream: number;
  tombstoneHits: number;
  pagesHighWater: number;
  /** Connections closed because the table was full (reason `limit`). */
  connectionsLimited: number;
  /** Most connections open at once. */
  connectionsHighWater: number;
  /** Parked (idle) connections that a later packet continued. */
  connectionsResumed: number;
}

/**
 * Told of every TCP packet after the assembler handled it: the connection it belongs to (by id;
 * a packet absorbed by a tombstone belongs to the connection that was buried), its direction, and
 * what the engine judged of it — a bit per stream anomaly counted for it (1 << index in
 * STREAM_ANOMALY_NAMES), or AFTER_CLOSE. Packets in no connection are not told.
 */
export interface PacketObserver {
  packet(connId: number, dir: TCPFlowDirection, tcp: TcpHeader, payloadLength: number, ci: CaptureInfo, judged: number): void;
}

/** Judged bit of a packet that came after its connection closed (absorbed by its tombstone). */
export const AFTER_CLOSE = 1 << 30;

export class Assembler {
  readonly opts: AssemblerOptions;
  /** Told of each packet (the app's packet lists); null: nobody asks, nothing is spent. */
  observer: PacketObserver | null = null;
  /** Told of each packet a tombstone absorbs (its closed connection's id, its direction, flags, payload length): `weft flows` counts them. */
  afterClose: ((connId: number, dir: TCPFlowDirection, flags: number, payloadLength: number) => void) | null = null;
  private placedId = 0;
  private placedDir: TCPFlowDirection = 0;
  readonly cache: PageCache;
  /** Hands in-order bytes to the streams (delivery.ts). */
  private readonly out: Delivery;
  /** What the flushes work on (flushing.ts). */
  private readonly flushing: Flushing;
  private readonly start = { value: false };
  private readonly tcpFlow: TcpFlow = { clientPort: 0, serverPort: 0, senderIsClient: true };
  private ctx!: AssemblerContext;
  private ci!: CaptureInfo;
  /** Latest capture time seen (seconds, float). */
  now = 0;
  readonly stats: AssemblerStats = { packets: 0, connectionsCreated: 0, connectionsClosed: 0, ignoredByStream: 0, tombstoneHits: 0, pagesHighWater: 0, connectionsLimited: 0, connectionsHighWater: 0, connectionsResumed: 0 };

  constructor(
    readonly pool: StreamPool,
    opts: Partial<AssemblerOptions> = {},
  ) {
    this.opts = { ...DEFAULT_ASSEMBLER_OPTIONS, ...opts };
    if (this.opts.maxBufferedPagesPerConnection <= 0 || this.opts.maxBufferedPagesTotal <= 0)
      throw new RangeError('page budgets must be positive: limits that default to "unlimited" are how captures eat all memory');
    if (!(this.opts.maxConnections >= 1)) throw new RangeError('maxConnections must be at least 1: a table without a limit is how a SYN flood eats all memory');
    // The pages live with the pool: any assembler sharing it may deliver (and free) them.
    this.cache = pool.pageCache;
    this.out = new Delivery(this.cache);
    this.flushing = {
      pool: this.pool,
      cache: this.cache,
      opts: this.opts,
      now: () => this.now,
      finish: (c, why) => this.finish(c, why),
      drain: (c, h, cause) => this.out.drain(c, h, cause),
    };
  }

  /**
   * Feeds one TCP packet. `netFlow` and `seg` are usually the same DecodedPacket; `ctx` gives the
   * packet's capture info. Nothing is kept from `seg` after the call except copied bytes.
   */
  assemble(netFlow: NetFlow, seg: TcpSegment, ctx: AssemblerContext): void {
    const o = this.observer;
    if (o === null) return this.handle(netFlow, seg, ctx);
    judged.half = null;
    judged.bits = 0;
    this.placedId = 0;
    this.handle(netFlow, seg, ctx);
    if (this.placedId !== 0) o.packet(this.placedId, this.placedDir, seg.tcp, seg.payloadLength, this.ci, judged.bits);
    judged.half = null;
  }

  private handle(netFlow: NetFlow, seg: TcpSegment, ctx: AssemblerContext): void {
    const t = seg.tcp;
    this.ctx = ctx;
    const ci = (this.ci = ctx.captureInfo());
    this.out.ctx = ctx;
    this.out.ci = ci;
    this.now = ci.tsSec + ci.tsNsec / 1e9;
    this.stats.packets++;
    const pool = this.pool;
    const f = pool.lookup(netFlow.ipVersion, netFlow.vlan, netFlow.src, t.srcPort, netFlow.dst, t.dstPort);
    let conn = f.conn;
    const flags = t.flags;
    const pureSyn = (flags & (SYN | ACK)) === SYN;
    if (conn !== null && conn.parked) {
      if (this.continues(conn, f.fromA, t)) this.resume(conn, f.fromA);
      else {
        this.finish(conn, 'idle');
        pool.remove(conn);
        conn = null;
      }
    }
    if (conn !== null && pureSyn && this.isPortReuse(conn, f.fromA, t)) {
      const a = conn.h0;
      const b = conn.h1;
      this.finish(conn, a.rstSeen || b.rstSeen ? 'rst' : a.finReached && b.finReached ? 'fin' : 'idle');
      pool.remove(conn);
      conn = null;
    }
    if (conn === null) {
      const owner = pureSyn ? -1 : pool.buried(netFlow.ipVersion, netFlow.vlan, netFlow.src, t.srcPort, netFlow.dst, t.dstPort, f);
      if (owner >= 0) {
        this.stats.tombstoneHits++;
        pool.tombstoneHits++;
        // still a packet of that connection (its last ACK, a late retransmission)
        this.placedId = owner >>> 1;
        this.placedDir = f.fromA === ((owner & 1) === 1) ? 0 : 1;
        judged.bits = AFTER_CLOSE;
        if (this.afterClose !== null) this.afterClose(this.placedId, this.placedDir, flags, seg.payloadLength);
        return;
      }
      if (pureSyn) pool.unbury(netFlow.ipVersion, netFlow.src, t.srcPort, netFlow.dst, t.dstPort, f);
      conn = this.newConnection(netFlow, t, f);
    }
    const fromA = f.fromA;
    const dir = conn.dirFromA(fromA);
    conn.lastSec = ci.tsSec;
    conn.lastNsec = ci.tsNsec;
    pool.touch(conn);
    const half = conn.half(dir);
    this.placedId = conn.id;
    this.placedDir = dir;
    judged.half = half;
    let peer = conn.side((dir ^ 1) as TCPFlowDirection);
    half.packets++;
    this.start.value = (flags & SYN) !== 0;
    if (!conn.stream.accept(t, ci, dir, half.nextSeq, this.start, ctx)) {
      this.stats.ignoredByStream++;
      return;
    }
    if (conn.completed) return;

    if (flags & ACK) this.acknowledged((peer = conn.half((dir ^ 1) as TCPFlowDirection)), t.ack | 0, half, seg.payloadLength, t.seq | 0);

    // Sequence numbers are int32 inside the engine (see sequence.ts): no boxing on calls.
    const seq = t.seq | 0;
    let dataSeq = seq;
    if (flags & SYN) {
      dataSeq = seqAdd(seq, 1);
      if (!half.synSeen) {
        half.synSeen = true;
        half.isn = seq;
        if (!half.started) half.begin(dataSeq, true);
      }
    } else if (this.start.value && !half.started) {
      half.begin(dataSeq, false);
    }

    const declared = seg.payloadLength;
    if (flags & RST) {
      if (!this.rstAcceptable(half, peer, t)) {
        half.count(SA['ignored-rst']);
        return;
      }
      half.rstSeen = true;
      if (declared > 0) half.count(SA['rst-with-data']);
    }
    if (flags & FIN && !half.finSeen) {
      // Known before the data is handled, so the FIN's own data carries the end mark.
      half.finSeen = true;
      half.finSeq = seqAdd(dataSeq, declared);
      if (!half.started && declared === 0) half.begin(half.finSeq, false);
    }
    if (declared > 0) this.data(conn, half, dataSeq, seg, declared);
    if (half.started) {
      const end = seqAdd(dataSeq, flags & FIN ? declared + 1 : declared);
      if (seqDiff(half.sentEnd, end) > 0) half.sentEnd = end;
    }
    if (half.finSeen && !half.finReached && half.nextSeq === half.finSeq) this.out.reachFin(conn, half);
    if (flags & RST) {
      this.finish(conn, 'rst');
      return;
    }
    if (half.finReached && peer.finReached) this.finish(conn, 'fin');
  }

  /**
   * A SYN without ACK on a known key starts a new connection (port reuse) when the old one is
   * over, or when it carries another ISN and either the old connection finished (FIN/RST) or never
   * carried a byte (a new attempt, as scanners and retrying clients make). A SYN with the same ISN
   * is a retransmission.
   */
  private isPortReuse(conn: Connection, fromA: boolean, t: TcpHeader): boolean {
    if (conn.completed) return true;
    const half = conn.side(conn.dirFromA(fromA));
    if (!half.synSeen || half.isn === (t.seq | 0)) return false;
    const a = conn.h0;
    const b = conn.h1;
    if (half.finSeen || a.rstSeen || b.rstSeen) return true;
    return a.delivered === 0 && b.delivered === 0 && a.first === null && b.first === null;
  }

  /**
   * Whether a packet continues parked `conn`: its sequence number lies near where its direction
   * left off and its acknowledgement near where the other did (RESUME_WINDOW either way). A new
   * SYN, or a packet of some later connection on the same ports, does not.
   */
  private continues(conn: Connection, fromA: boolean, t: TcpHeader): boolean {
    const dir = conn.dirFromA(fromA);
    const half = conn.side(dir);
    const peer = conn.side((dir ^ 1) as TCPFlowDirection);
    if (half.started) {
      const d = seqDiff(half.sentEnd, t.seq | 0);
      if (d < -RESUME_WINDOW || d > RESUME_WINDOW) return false;
    }
    if (t.flags & ACK && peer.started) {
      const d = seqDiff(peer.sentEnd, t.ack | 0);
      if (d < -RESUME_WINDOW || d > RESUME_WINDOW) return false;
    }
    return true;
  }

  /** A parked connection is continued: active again, the quiet period noted on the direction that resumed it. */
  private resume(conn: Connection, fromA: boolean): void {
    const quiet = this.now - (conn.lastSec + conn.lastNsec / 1e9);
    const half = conn.half(conn.dirFromA(fromA));
    half.count(SA['resumed-after-idle']);
    half.noteQuiet(quiet);
    this.pool.unpark(conn);
    this.stats.connectionsResumed++;
  }

  /** The overlap policy of the host that receives `half`'s bytes. */
  private policyOf(conn: Connection, half: HalfConnection): OverlapPolicy {
    const f = this.opts.policyFor;
    return (f !== null ? f(conn, half.dir) : null) ?? this.opts.overlapPolicy;
  }

  /**
   * Whether a RST would be honoured by the receiver (RFC 9293 §3.10.7.4, RFC 5961): its sequence
   * number lies at or just past what its sender has sent, or — before its sender has sent anything
   * — it answers the peer's SYN (acknowledging ISN + 1). Others (blind or injected) are ignored.
   */
  private rstAcceptable(half: HalfConnection, peer: HalfConnection, t: TcpHeader): boolean {
    if (half.started) {
      const d = seqDiff(half.nextSeq, t.seq | 0);
      return d >= -64 && d <= 1 << 20;
    }
    if (t.flags & ACK && peer.synSeen) return (t.ack | 0) === seqAdd(peer.isn, 1);
    return true;
  }

  private newConnection(net: NetFlow, t: TcpHeader, f: Found): Connection {
    const pool = this.pool;
    const fromA = f.fromA;
    // A full table gives up its least recently active connection (`f` stays valid: it holds the
    // new packet's hash and side, not a connection).
    // The victim's key is buried like a closed connection's, so its later packets are absorbed
    // (counted as tombstone hits) instead of each starting a connection that takes a slot and
    // pushes out the next one: a connection is reported once, marked 'limit'.
    while (pool.size >= this.opts.maxConnections && pool.parkedHead !== null) {
      // parked connections go first: they were idle, and end the way their park would have
      const victim = pool.parkedHead;
      this.finish(victim, 'idle');
      pool.remove(victim);
    }
    while (pool.size >= this.opts.maxConnections && pool.lruHead !== null) {
      const victim = pool.lruHead;
      if (!victim.completed) {
        this.finish(victim, 'limit');
        this.stats.connectionsLimited++;
      }
      pool.remove(victim);
      pool.bury(victim, this.now + this.opts.tombstoneSec);
    }
    const c = pool.create(net.ipVersion, net.vlan, net.src, t.srcPort, net.dst, t.dstPort, f);
    this.stats.connectionsCreated++;
    if (pool.size > this.stats.connectionsHighWater) this.stats.connectionsHighWater = pool.size;
    const flags = t.flags;
    // Direction (DESIGN.md): the sender of a SYN without ACK is the client; a SYN-ACK seen first
    // makes its sender the server; otherwise guess: the well-known (or lower) port is the server.
    let senderIsClient: boolean;
    if ((flags & (SYN | ACK)) === SYN) senderIsClient = true;
    else if ((flags & (SYN | ACK)) === (SYN | ACK)) senderIsClient = false;
    else {
      c.directionInferred = true;
      const sp = t.srcPort;
      const dp = t.dstPort;
      const sWell = sp < 1024;
      const dWell = dp < 1024;
      if (sWell !== dWell) senderIsClient = dWell;
      else if (sp !== dp) senderIsClient = sp > dp;
      else senderIsClient = true;
    }
    c.clientIsA = senderIsClient === fromA;
    c.firstSec = this.ci.tsSec;
    c.firstNsec = this.ci.tsNsec;
    this.tcpFlow.clientPort = senderIsClient ? t.srcPort : t.dstPort;
    this.tcpFlow.serverPort = senderIsClient ? t.dstPort : t.srcPort;
    this.tcpFlow.senderIsClient = senderIsClient;
    c.stream = pool.factory.new(net, this.tcpFlow, t, this.ctx);
    c.stream.attach?.(c);
    if (this.opts.deliveredWindow > 0) for (const d of [0, 1] as const) c.half(d).window = new Uint8Array(this.opts.deliveredWindow);
    return c;
  }

  /**
   * The peer (`sender`, whose segment of `len` bytes at `seq` carries it) acknowledged `ack` of
   * `half`'s data. Taken only as far as `half` was seen to send:
   * acknowledgements of bytes not yet seen come from segments the capture reordered (a request
   * that really came later, acknowledging a whole response) or from the capture missing the tail,
   * and holes are judged by what is acknowledged once their bytes' neighbours were seen.
   */
  private acknowledged(half: HalfConnection, ack: number, sender: HalfConnection, len: number, seq: number): void {
    if (!half.started) return;
    if (seqDiff(half.sentEnd, ack) > 0) {
      // A segment that came ahead of its own direction's next byte was reordered by the capture:
      // what it acknowledges beyond the peer's bytes seen so far is not evidence of lost bytes.
      if (!(len > 0 && sender.started && seqDiff(sender.nextSeq, seq) > 0)) half.noteAheadAck(ack);
      ack = half.sentEnd;
    }
    if (seqDiff(half.peerAck, ack) > 0 || !half.ackKnown) {
      half.peerAck = ack;
      half.ackKnown = true;
    }
  }

  /**
   * Skips holes that lie wholly below the peer's ACK: the receiver had those bytes, so the capture
   * missed them (cause `not-captured`), and delivers what becomes contiguous. Called when a segment
   * of the direction arrives that does not fill the hole, not on the ACK itself, so a capture that
   * merely reordered a segment and the ACK covering it (seen on multi-queue NICs) loses nothing.
   */
  private skipAckedHoles(conn: Connection, half: HalfConnection, below: number | null): void {
    if (!half.ackKnown || !this.opts.skipAcknowledgedHoles) return;
    while (half.first !== null && seqDiff(half.nextSeq, half.first.seq) > 0 && seqDiff(half.first.seq, half.peerAck) >= 0) {
      // The segment being handled starts at `below`: a hole it begins in is what it fills, so
      // only the part before it is skipped, and none of a hole it starts at.
      if (below !== null && seqDiff(below, half.first.seq) > 0) {
        half.skipTo(below, 'not-captured');
        return;
      }
      half.skipTo(half.first.seq, 'not-captured');
      this.out.deliver(conn, half, null, 0, 0);
    }
  }

  /** Payload of a packet for `half`, starting at sequence `seq`. */
  private data(conn: Connection, half: HalfConnection, seq: number, seg: TcpSegment, declared: number): void {
    let off = seg.payloadOffset;
    let len = seg.payloadCaptured;
    const buf = seg.buf;
    if (len < declared) half.count(SA['truncated-payload']);
    if (!half.started) half.begin(seq, false);
    if (half.finSeen && seqDiff(half.finSeq, seqAdd(seq, declared)) > 0) {
      half.count(SA['data-after-fin']);
      const room = seqDiff(seq, half.finSeq);
      if (room <= 0) return;
      declared = room;
      if (len > room) len = room;
    }
    // Once round, or again when delivering acknowledged pages moved nextSeq past the segment's start.
    for (;;) {
      let d = seqDiff(half.nextSeq, seq);
      if (d < 0 && half.midStream) {
        // A direction that began mid-stream: bytes below its first one were never delivered.
        const below = seqDiff(seq, half.startSeq);
        if (below > 0) {
          const start = half.startSeq;
          half.beforeStart(seq, Math.min(below, declared));
          if (below >= declared) return;
          off += below;
          len = len > below ? len - below : 0;
          declared -= below;
          seq = start;
          d = seqDiff(half.nextSeq, seq);
        }
      }
      if (d < 0) {
        // Starts before the next expected byte: some or all of it was delivered already.
        if (half.synSeen && seqDiff(seqAdd(seq, declared), seqAdd(half.isn, 1)) >= 0) {
          half.count(SA['data-before-isn']); // wholly before the first byte after the SYN
          return;
        }
        const over = Math.min(-d, len);
        half.checkDelivered(seq, buf, off, over, this.ci.frame);
        if (-d >= declared) {
          half.count(SA.retransmission);
          return;
        }
        half.count(SA.overlap);
        if (-d >= len) return; // the captured part was all delivered; the rest is a truncation hole
        off += -d;
        len -= -d;
        declared += d;
        seq = half.nextSeq;
        d = 0;
      }
      if (d > 0) {
        const beforePages = half.first === null || seqDiff(seq, half.first.seq) >= 0;
        if (!beforePages) {
          // Holes below the pages that precede this segment may have been acknowledged.
          this.skipAckedHoles(conn, half, seq);
          d = seqDiff(half.nextSeq, seq);
        }
        if (d > 0 && (half.first === null || seqDiff(seq, half.first.seq) >= 0) && this.opts.skipAcknowledgedHoles && ((half.ackKnown && seqDiff(seq, half.peerAck) >= 0) || (half.aheadAckKnown && half.aheadAck === seq))) {
          // The hole right before this segment was acknowledged: skip just that part, the segment
          // itself fills what follows.
          half.skipTo(seq, 'not-captured');
          d = 0;
        }
        // Delivering acknowledged pages moved nextSeq past this segment's start: look again.
        if (d < 0) continue;
        if (d > 0) {
          half.count(SA['out-of-order']);
          insertSegment(half, this.cache, this.policyOf(conn, half), seq, buf, off, len, this.ci);
          if (this.cache.used > this.stats.pagesHighWater) this.stats.pagesHighWater = this.cache.used;
          if (len < declared) this.noteTruncation(half, seqAdd(seq, len));
          this.enforceBudget(conn, half);
          return;
        }
      }
      if (len < declared) this.noteTruncation(half, seqAdd(seq, len));
      if (half.first !== null && seqDiff(half.first.seq, seqAdd(seq, len)) > 0 && targetBased(this.policyOf(conn, half))) {
        // A target-based policy decides the overlap with held bytes for this segment too: it
        // goes into the pages under the policy, and the pages are delivered from here.
        insertSegment(half, this.cache, this.policyOf(conn, half), seq, buf, off, len, this.ci);
        this.out.deliver(conn, half, null, 0, 0);
        return;
      }
      // In order: the whole segment is delivered from the packet. Buffered bytes it overlaps give
      // way (as in tshark's Follow and Linux's receive queue); deliver() compares them for conflicts.
      this.out.deliver(conn, half, buf, off, len);
      return;
    }
  }

  private noteTruncation(half: HalfConnection, holeSeq: number): void {
    half.truncHole = true;
    half.truncHoleSeq = holeSeq;
  }

  /** Keeps the connection and the assembler within their page budgets (see the class comment). */
  private enforceBudget(conn: Connection, half: HalfConnection): void {
    const o = this.opts;
    while (half.first !== null && (half.pages >= o.maxBufferedPagesPerConnection || this.cache.used > o.maxBufferedPagesTotal)) {
      half.skipTo(half.first.seq, 'buffer-limit');
      this.out.deliver(conn, half, null, 0, 0);
    }
  }

  /** Ends a connection: drains both directions, marks their ends, calls reassemblyComplete. */
  private finish(conn: Connection, reason: CloseReason): void {
    if (conn.completed) return;
    const cause: GapCause = reason === 'idle' ? 'idle-flush' : reason === 'end-of-input' ? 'end-of-input' : reason === 'limit' ? 'buffer-limit' : 'not-captured';
    for (let d = 0; d < 2; d++) {
      const h = conn.side(d as TCPFlowDirection);
      if (isUnused(h)) continue; // a direction that never sent: nothing to deliver or end
      // At a RST, bytes beyond a hole the peer never acknowledged never reached the application
      // (tshark's Follow leaves them out too): drop them. Other closes deliver past the holes.
      if (reason === 'rst') {
        this.skipAckedHoles(conn, h, null);
        this.out.dropUnacked(h);
      }
      this.out.drain(conn, h, cause);
      if (h.finSeen && !h.finReached && seqDiff(h.nextSeq, h.finSeq) > 0 && h.started) {
        // Bytes before the FIN never came.
        h.recordGap(seqDiff(h.nextSeq, h.finSeq), cause);
        h.nextSeq = h.finSeq;
      }
      if (!h.ended && (h.started || h.keptLen > 0)) this.out.deliverEnd(conn, h);
      h.ended = true;
    }
    conn.completed = true;
    conn.closeReason = reason;
    this.stats.connectionsClosed++;
    const forget = conn.stream.reassemblyComplete(this.ctx, reason);
    if (forget) {
      this.pool.remove(conn);
      if (reason === 'fin' || reason === 'rst') this.pool.bury(conn, this.now + this.opts.tombstoneSec);
    }
  }

  /**
   * Flushes connections idle since before `t` (capture seconds): their buffered data is delivered
   * past the holes (cause `idle-flush`). Those idle since before `tc` are closed. Returns counts.
   *
   * Walks the pool's activity list from its least recently active end and stops at the first
   * connection active since: the cost follows the connections flushed, not the table's size
   * (a once-a-second flush over 150,000 open connections would otherwise visit them all). Capture
   * time that goes backwards can leave an idle connection behind a busier one until a later flush.
   */
  flushWithOptions(o: FlushOptions): FlushCounts {
    return flushIdle(this.flushing, o);
  }

  /** Parks (or, with parkSec 0, closes) every connection idle since before `t` (capture seconds). */
  flushCloseOlderThan(t: number): FlushCounts {
    return this.flushWithOptions({ t, tc: t });
  }

  /**
   * End of input: delivers everything and completes every connection, in order of first packet
   * (their numbers); `before(id)` is called before each, so what else ends at the end of input
   * (UDP conversations, flows waiting after their close) can end in the same number order.
   * Returns how many closed.
   */
  flushAll(before?: (id: number) => void): number {
    return flushEverything(this.flushing, before);
  }

  /** Pages held now for out-of-order data. */
  get bufferedPages(): number {
    return this.cache.used;
  }
}

export type { TCPFlowDirection };
