/**
 * What capture readers hand out.
 *
 * A reader calls its sink once per packet with the SAME {@link CapturedPacket} object every time,
 * overwriting its fields (gopacket's DecodingLayerParser habit): nothing is allocated per packet.
 * `buf` is the caller's chunk (or, for a record split across two chunks, the reader's own scratch
 * buffer) and the packet bytes are `buf[offset, offset + capLen)`. Both the object and the bytes
 * are valid only during the sink call: copy what you keep (`packetBytes(p).slice()`).
 */
export interface CapturedPacket {
  /** 1-based frame number in the input, counting packets only (not other blocks). */
  frame: number;
  /** Capture time: whole seconds since the epoch (may exceed 2^32) ... */
  tsSec: number;
  /** ... plus nanoseconds, 0 ≤ tsNsec < 1e9. */
  tsNsec: number;
  /** Interface index across the whole input (pcap: always 0; pcapng: IDB order over all sections). */
  ifIndex: number;
  /** LINKTYPE_* value of the interface the packet was captured on. */
  linkType: number;
  buf: Uint8Array;
  offset: number;
  /** Bytes present in the capture. */
  capLen: number;
  /** Bytes the packet had on the wire (≥ capLen for sane files). */
  origLen: number;
  /** Absolute byte offset of the record (pcap) or block (pcapng) in the input. */
  fileOffset: number;
}

export function newCapturedPacket(): CapturedPacket {
  return {
    frame: 0,
    tsSec: 0,
    tsNsec: 0,
    ifIndex: 0,
    linkType: 0,
    buf: new Uint8Array(0),
    offset: 0,
    capLen: 0,
    origLen: 0,
    fileOffset: 0,
  };
}

/** A view of the packet's bytes (allocates a view object, not a copy). */
export function packetBytes(p: CapturedPacket): Uint8Array {
  return p.buf.subarray(p.offset, p.offset + p.capLen);
}

export interface InterfaceInfo {
  /** Global interface index (see CapturedPacket.ifIndex). */
  index: number;
  linkType: number;
  snapLen: number;
  name?: string;
  description?: string;
  /** Timestamp resolution in units per second (1e6 for microseconds). */
  tsUnitsPerSecond: number;
}

export type CaptureFormat = 'pcap' | 'pcap-nsec' | 'pcapng';

/** Non-fatal oddities a reader fixed up and counted while reading. */
export interface ReaderAnomalies {
  /** Records whose captured length exceeded the original length (origLen raised to capLen). */
  capLenOverOrigLen: number;
  /** Timestamps whose fraction was out of range (carried into the seconds). */
  badTimestampFraction: number;
  /** pcapng blocks skipped because their type is unknown, custom, or not packet data. */
  skippedBlocks: number;
}

export interface PacketSink {
  packet(p: CapturedPacket): void;
  /** Called when an interface is described (pcap: once, from the global header). */
  interface?(info: InterfaceInfo): void;
}
