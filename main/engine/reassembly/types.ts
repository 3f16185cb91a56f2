/**
 * The reassembly contract, named after gopacket's `reassembly` package so readers can cross-check.
 *
 * Call order for one connection (what a Stream may rely on):
 *   1. StreamFactory.new(netFlow, tcpFlow, tcp, ctx) — once, on the connection's first packet;
 *   2. for every packet of the connection: Stream.accept(tcp, ci, dir, nextSeq, start, ctx) — return
 *      false to make the assembler ignore the packet;
 *   3. Stream.reassembledSG(sg, ctx) — zero or more times, bytes of each direction in sequence order
 *      (a direction's chunks never interleave out of order; the two directions interleave in
 *      capture order);
 *   4. Stream.reassemblyComplete(ctx) — exactly once: on RST, when both FINs have taken effect, on a
 *      flush that closes the connection, or at flushAll(). Return true to forget the connection now,
 *      false to keep seeing its remaining packets through accept() until it is flushed.
 *
 * The ScatterGather passed to reassembledSG is REUSED after the call returns and its byte views
 * point into the capture chunk or into pages that are recycled: copy what you keep, or call
 * sg.keepFrom(offset) to have the assembler carry bytes over to the next call.
 */
import type { TcpHeader } from '../decode/layers';
import type { Conflict, Gap } from './anomalies';

/** Direction of a packet within its connection. */
export const TCPFlowDirection = {
  ClientToServer: 0,
  ServerToClient: 1,
} as const;
export type TCPFlowDirection = 0 | 1;

export function reverse(d: TCPFlowDirection): TCPFlowDirection {
  return (d ^ 1) as TCPFlowDirection;
}

/** Where a packet came from: the capture metadata carried along with its bytes. */
export interface CaptureInfo {
  tsSec: number;
  tsNsec: number;
  /** 1-based frame number in the input. */
  frame: number;
  capLen: number;
  origLen: number;
}

/** Copies capture metadata field by field into a reused object (no allocation). */
export function copyCaptureInfo(to: CaptureInfo, from: CaptureInfo): void {
  to.tsSec = from.tsSec;
  to.tsNsec = from.tsNsec;
  to.frame = from.frame;
  to.capLen = from.capLen;
  to.origLen = from.origLen;
}

/** Per-packet context handed to every Stream callback (gopacket: AssemblerContext). */
export interface AssemblerContext {
  captureInfo(): CaptureInfo;
}

/** The network layer of a packet: what DecodedPacket provides. */
export interface NetFlow {
  ipVersion: number;
  src: Uint8Array;
  dst: Uint8Array;
  /** Outer VLAN id or -1: part of the connection key. */
  vlan: number;
}

/** The transport layer of a packet: TCP header plus where its payload lies (DecodedPacket fits). */
export interface TcpSegment {
  tcp: TcpHeader;
  buf: Uint8Array;
  payloadOffset: number;
  /** Payload length the IP header declares. */
  payloadLength: number;
  /** Payload bytes present (less when snaplen cut the packet). */
  payloadCaptured: number;
}

/** Endpoints of a connection as the factory sees them (client first once direction is known). */
export interface TcpFlow {
  clientPort: number;
  serverPort: number;
  /** The packet that created the connection was sent by the client. */
  senderIsClient: boolean;
}

export interface ScatterGatherInfo {
  dir: TCPFlowDirection;
  /** This chunk starts the direction (SYN seen, or the first data of a mid-stream start). */
  start: boolean;
  /** This chunk ends the direction (FIN reached, RST, or closed by a flush). */
  end: boolean;
  /** Bytes skipped just before this chunk: 0 none, n > 0 a gap, −1 unknown (mid-stream start). */
  skip: number;
}

export interface ScatterGatherStats {
  chunks: number;
  packets: number;
  queuedBytes: number;
  queuedPackets: number;
  overlapBytes: number;
  overlapPackets: number;
}

export interface ScatterGather {
  /** [available bytes, of which carried over by keepFrom]; the array is reused by the next call. */
  lengths(): [number, number];
  /** The first `length` bytes (a view when they are in one piece, else a copy). */
  fetch(length: number): Uint8Array;
  /** Keep bytes from `offset` on for the next reassembledSG call of this direction. */
  keepFrom(offset: number): void;
  /** Capture metadata of the packet the byte at `offset` (0 … available − 1) came from; a RangeError outside. */
  captureInfo(offset: number): CaptureInfo;
  info(): ScatterGatherInfo;
  stats(): ScatterGatherStats;
  /**
   * Calls fn for each piece of the delivery in order (views, no copy; our addition to gopacket's
   * interface, for consumers such as hashes that take bytes piecewise).
   */
  pieces(fn: (buf: Uint8Array, off: number, len: number, ci: CaptureInfo) => void): void;
}

export interface Stream {
  /**
   * Every packet of the connection, before the assembler handles it; false makes it ignore the
   * packet (counted in `stats.ignoredByStream`). `tcp` is the decoder's reused header: read it
   * now. `nextSeq` is the next byte the assembler expects in `dir`, as an int32 (the engine's
   * form: `seqWire(nextSeq)` gives the wire's unsigned value; meaningless before the direction
   * started). `start` is a box the stream may set: `start.value = true` on a packet without SYN
   * makes the direction start at this packet's sequence number (gopacket's `*start`; it arrives
   * true on a SYN). Packets a tombstone absorbs after the close never get here.
   */
  accept(tcp: TcpHeader, ci: CaptureInfo, dir: TCPFlowDirection, nextSeq: number, start: { value: boolean }, ctx: AssemblerContext): boolean;
  /**
   * Bytes of one direction in sequence order (see the file comment); `sg` and its views are
   * reused after the call: copy what you keep, or keepFrom().
   */
  reassembledSG(sg: ScatterGather, ctx: AssemblerContext): void;
  /**
   * The connection ended, once (see the file comment); `reason` says why (our addition;
   * gopacket's Stream has no such argument). true: forget it now; false: keep seeing its packets
   * through accept() until a flush removes it.
   */
  reassemblyComplete(ctx: AssemblerContext, reason: CloseReason): boolean;
  /**
   * Called once, right after the factory, with the connection's engine state (half-connections
   * with their counters, gaps and conflicts). Optional; our addition.
   */
  attach?(conn: ConnectionState): void;
}

/** What a Stream may read of its connection (see stream-pool.ts Connection). */
export interface ConnectionState {
  readonly id: number;
  /** The client's and the server's "ip:port" (IPv6 bracketed), formatted on each read: read once. */
  readonly client: string;
  readonly server: string;
  readonly clientPort: number;
  readonly serverPort: number;
  readonly ipVersion: number;
  readonly vlan: number;
  readonly directionInferred: boolean;
  readonly firstSec: number;
  readonly firstNsec: number;
  /** Capture time of the connection's latest packet. */
  readonly lastSec: number;
  readonly lastNsec: number;
  readonly halves: readonly [HalfConnectionState, HalfConnectionState];
}

export interface HalfConnectionState {
  readonly packets: number;
  readonly delivered: number;
  readonly gapBytes: number;
  readonly gapCount: number;
  readonly gaps: readonly Gap[];
  readonly conflicts: readonly Conflict[];
  /** Anomaly counters by STREAM_ANOMALY_NAMES index, or null while none was counted. */
  readonly counts: Float64Array | null;
  /** Longest quiet period (capture seconds) after which this direction resumed its parked connection; 0 if none. */
  readonly longestQuietSec: number;
  anomalyObject(): Record<string, number>;
}

/** Why a connection ended (`limit`: the connection table was full and it was the least recently active). */
export type CloseReason = 'fin' | 'rst' | 'idle' | 'end-of-input' | 'limit';

export interface StreamFactory {
  /**
   * A new connection's Stream, on its first packet. `netFlow`, `tcpFlow` and `tcp` are REUSED
   * (the decoder's packet, the assembler's one TcpFlow): read what you need now, never keep them.
   * `netFlow.src` is the first packet's sender, which `tcpFlow.senderIsClient` says is the client
   * or the server (the direction rules are in DESIGN.md).
   */
  "new"(netFlow: NetFlow, tcpFlow: TcpFlow, tcp: TcpHeader, ctx: AssemblerContext): Stream;
}

/** gopacket: FlushOptions. T: flush (skip gaps of) connections idle since before T; TC: close them. */
export interface FlushOptions {
  /** Capture time in seconds: connections with no packet since are flushed (buffered data delivered past gaps). */
  t: number;
  /** Capture time in seconds: connections with no packet since are closed. */
  tc: number;
}
