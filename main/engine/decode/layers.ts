/**
 * The reusable result of decoding one packet (DecodingLayerParser style): a decoder owns ONE
 * {@link DecodedPacket} and overwrites it for every packet, so decoding allocates nothing.
 * Everything here, including `buf`, is valid only until the next decode() call: copy what you
 * keep. Addresses are copied into fixed 16-byte arrays (IPv4 uses the first 4 bytes).
 */

export const TcpFlags = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
  NS: 0x100,
} as const;

/**
 * A decoded TCP header. The fixed fields are set by every decode. The options are parsed lazily,
 * on the first read of an option field after a decode (most consumers never look at them on most
 * packets, and parsing them was a fifth of the decode cost); `parseOptions()` forces it, which is
 * how `tcp-bad-option` anomalies get counted for reports.
 */
export class TcpHeader {
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  /** Header length in bytes (data offset × 4). */
  dataOffset = 0;
  /** FIN..CWR in bits 0..7, NS in bit 8 (see TcpFlags). */
  flags = 0;
  window = 0;
  checksum = 0;
  urgent = 0;

  private optBuf: Uint8Array = new Uint8Array(0);
  private optStart = 0;
  private optEnd = 0;
  private parsed = true;
  private _mss = -1;
  private _windowScale = -1;
  private _sackPermitted = false;
  private _sackCount = 0;
  private readonly _sack = new Uint32Array(8);
  private _hasTimestamps = false;
  private _tsVal = 0;
  private _tsEcr = 0;
  private _otherOptions = 0;

  constructor(private readonly onBadOption: () => void = () => {}) {}

  /** Called by the decoder: options live in b[start, end) until the next decode. */
  setOptions(b: Uint8Array, start: number, end: number): void {
    this.optBuf = b;
    this.optStart = start;
    this.optEnd = end;
    this.parsed = start >= end;
    if (this.parsed) this.clearOptions();
  }

  /** MSS option value, or -1. */
  get mss(): number {
    if (!this.parsed) this.parseOptions();
    return this._mss;
  }
  /** Window scale shift count, or -1. */
  get windowScale(): number {
    if (!this.parsed) this.parseOptions();
    return this._windowScale;
  }
  get sackPermitted(): boolean {
    if (!this.parsed) this.parseOptions();
    return this._sackPermitted;
  }
  /** Number of SACK blocks (0..4); edges in sack[0..2*sackCount). */
  get sackCount(): number {
    if (!this.parsed) this.parseOptions();
    return this._sackCount;
  }
  get sack(): Uint32Array {
    if (!this.parsed) this.parseOptions();
    return this._sack;
  }
  get hasTimestamps(): boolean {
    if (!this.parsed) this.parseOptions();
    return this._hasTimestamps;
  }
  get tsVal(): number {
    if (!this.parsed) this.parseOptions();
    return this._tsVal;
  }
  get tsEcr(): number {
    if (!this.parsed) this.parseOptions();
    return this._tsEcr;
  }
  /** Options present that we do not interpret (MPTCP, TCP-AO, …). */
  get otherOptions(): number {
    if (!this.parsed) this.parseOptions();
    return this._otherOptions;
  }

  has(flag: number): boolean {
    return (this.flags & flag) !== 0;
  }

  private clearOptions(): void {
    this._mss = -1;
    this._windowScale = -1;
    this._sackPermitted = false;
    this._sackCount = 0;
    this._hasTimestamps = false;
    this._otherOptions = 0;
  }

  /**
   * Walks the options (RFC 9293 §3.1; window scale and timestamps RFC 7323; SACK RFC 2018):
   * EOL ends the list, NOP is one byte, every other kind has a length byte ≥ 2 that must fit in
   * the header. A bad length stops parsing (what came before is kept) and reports a bad option.
   */
  parseOptions(): void {
    if (this.parsed) return;
    this.parsed = true;
    this.clearOptions();
    const b = this.optBuf;
    const end = this.optEnd;
    let o = this.optStart;
    while (o < end) {
      const kind = b[o];
      if (kind === 0) return;
      if (kind === 1) {
        o++;
        continue;
      }
      if (o + 1 >= end) return this.onBadOption();
      const len = b[o + 1];
      if (len < 2 || o + len > end) return this.onBadOption();
      switch (kind) {
        case 2:
          if (len === 4) this._mss = (b[o + 2] << 8) | b[o + 3];
          else this.onBadOption();
          break;
        case 3:
          if (len === 3) this._windowScale = b[o + 2];
          else this.onBadOption();
          break;
        case 4:
          if (len === 2) this._sackPermitted = true;
          else this.onBadOption();
          break;
        case 5: {
          const n = (len - 2) >>> 3;
          if ((len - 2) % 8 !== 0 || n === 0 || n > 4) {
            this.onBadOption();
            break;
          }
          for (let i = 0; i < n; i++) {
            this._sack[2 * i] = be32(b, o + 2 + 8 * i);
            this._sack[2 * i + 1] = be32(b, o + 6 + 8 * i);
          }
          this._sackCount = n;
          break;
        }
        case 8:
          if (len === 10) {
            this._hasTimestamps = true;
            this._tsVal = be32(b, o + 2);
            this._tsEcr = be32(b, o + 6);
          } else this.onBadOption();
          break;
        default:
          this._otherOptions++;
      }
      o += len;
    }
  }
}

function be32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

export class UdpHeader {
  srcPort = 0;
  dstPort = 0;
  length = 0;
  checksum = 0;
}

/** What decoding reached. */
export const Transport = {
  NONE: 0, // stopped before a transport layer (non-IP, error, or fragment held for reassembly)
  TCP: 6,
  UDP: 17,
  OTHER: 255, // an IP protocol we do not decode (ICMP, ESP, …); see ipProto
} as const;

export class DecodedPacket {
  linkType = 0;
  /** Outer and inner 802.1Q/802.1ad VLAN ids (-1 if none); vlanCount counts all tags. */
  vlan = -1;
  vlanInner = -1;
  vlanCount = 0;
  pppoeSession = -1;
  /** Encapsulations crossed (GRE, VXLAN, IP-in-IP); addresses and ports are the innermost. */
  tunnelDepth = 0;
  ipVersion = 0;
  readonly src = new Uint8Array(16);
  readonly dst = new Uint8Array(16);
  /** Innermost IP protocol (after IPv6 extension headers). */
  ipProto = -1;
  ttl = 0;
  ipId = 0;
  /** IPv4 header checksum result when verification is on: 1 ok, 0 bad, -1 not checked. */
  ipChecksumOk = -1;
  /** This packet was a fragment that is held until its datagram is complete. */
  fragmentHeld = false;
  /** The transport data below came from a reassembled IP datagram (buf is then the reassembly buffer). */
  reassembled = false;
  transport: number = Transport.NONE;
  readonly tcp: TcpHeader;
  readonly udp = new UdpHeader();
  /** Buffer holding the transport payload (the packet's chunk, or a defragmentation buffer). */
  buf: Uint8Array = new Uint8Array(0);
  payloadOffset = 0;
  /** Payload length the IP header declares. */
  payloadLength = 0;
  /** Payload bytes actually captured (less than payloadLength when snaplen cut the packet). */
  payloadCaptured = 0;

  constructor(onBadTcpOption: () => void = () => {}) {
    this.tcp = new TcpHeader(onBadTcpOption);
  }

  reset(linkType: number): void {
    this.linkType = linkType;
    this.vlan = -1;
    this.vlanInner = -1;
    this.vlanCount = 0;
    this.pppoeSession = -1;
    this.tunnelDepth = 0;
    this.ipVersion = 0;
    this.ipProto = -1;
    this.ipChecksumOk = -1;
    this.fragmentHeld = false;
    this.reassembled = false;
    this.transport = Transport.NONE;
    this.payloadOffset = 0;
    this.payloadLength = 0;
    this.payloadCaptured = 0;
  }

  /** Payload view (allocates a view object; hot paths use buf/payloadOffset/payloadCaptured). */
  payload(): Uint8Array {
    return this.buf.subarray(this.payloadOffset, this.payloadOffset + this.payloadCaptured);
  }
}
