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
  /** Options; -1 / false when absent. */
  mss = -1;
  windowScale = -1;
  sackPermitted = false;
  /** Number of SACK blocks (0..4); edges in sack[0..2*sackCount). */
  sackCount = 0;
  readonly sack = new Uint32Array(8);
  hasTimestamps = false;
  tsVal = 0;
  tsEcr = 0;
  /** Options present that we do not interpret (MPTCP, TCP-AO, …): counted, not parsed. */
  otherOptions = 0;

  reset(): void {
    this.mss = -1;
    this.windowScale = -1;
    this.sackPermitted = false;
    this.sackCount = 0;
    this.hasTimestamps = false;
    this.otherOptions = 0;
  }

  has(flag: number): boolean {
    return (this.flags & flag) !== 0;
  }
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
  readonly tcp = new TcpHeader();
  readonly udp = new UdpHeader();
  /** Buffer holding the transport payload (the packet's chunk, or a defragmentation buffer). */
  buf: Uint8Array = new Uint8Array(0);
  payloadOffset = 0;
  /** Payload length the IP header declares. */
  payloadLength = 0;
  /** Payload bytes actually captured (less than payloadLength when snaplen cut the packet). */
  payloadCaptured = 0;

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
