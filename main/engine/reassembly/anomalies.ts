/**
 * Named anomaly counters of a half-connection (one direction of a connection). Bad traffic is
 * data: the engine counts it here and never throws (STYLE.md §2).
 */
import { indexOf } from '../util/counters';

export const STREAM_ANOMALY_NAMES = [
  'retransmission', // a segment whose bytes were all seen before
  'out-of-order', // a segment beyond the next expected byte (buffered)
  'overlap', // a segment partly covering bytes seen before
  'conflicting-overlap', // overlapping bytes that differ from the kept copy
  'gap', // bytes never seen, skipped
  'data-after-fin', // payload beyond the FIN's sequence position
  'data-before-isn', // payload before the first byte of the direction
  'missing-handshake', // the direction started without a SYN
  'rst-with-data', // a RST segment carrying payload
  'truncated-payload', // snaplen cut the segment: the missing tail is a gap
  'buffer-limit', // a page budget forced a gap to be skipped
  'ignored-rst', // a RST outside the sequence window (e.g. injected): not honoured
  'unacked-dropped', // at a RST, buffered bytes beyond a hole the peer never acknowledged: dropped
  'resumed-after-idle', // a packet continued the connection after it was parked as idle
  'before-start', // bytes below where a mid-stream direction began, seen after it began: never delivered (a gap)
] as const;

export type StreamAnomalyName = (typeof STREAM_ANOMALY_NAMES)[number];
export const SA = indexOf(STREAM_ANOMALY_NAMES);

/** Why bytes were skipped. */
export type GapCause = 'not-captured' | 'buffer-limit' | 'idle-flush' | 'end-of-input' | 'truncated' | 'before-start';

export interface Gap {
  /** Offset in the direction's delivered byte stream where the gap sits (bytes before it). */
  offset: number;
  /** Bytes missing (−1 when unknown). */
  length: number;
  cause: GapCause;
}

/** Two versions of the same stream bytes (bounded: see MAX_CONFLICT_BYTES). */
export interface Conflict {
  /** Sequence number (wire value) of the first differing byte. */
  seq: number;
  /** Offset of that byte in the delivered stream. */
  offset: number;
  kept: Uint8Array;
  other: Uint8Array;
  frame: number;
}

export const MAX_CONFLICTS = 16;
export const MAX_CONFLICT_BYTES = 256;
