/**
 * PacketDecoder: link layer → (VLAN, PPPoE, tunnels) → IPv4/IPv6 (+ defragmentation) → TCP/UDP.
 *
 * Who calls it: whoever reads packets (CLI, engine host), once per CapturedPacket, synchronously.
 * What it reuses: ONE DecodedPacket (`decoder.out`), overwritten on every call, whose `buf` is the
 * packet's own chunk (or a defragmentation buffer). Nothing is allocated per packet except when IP
 * fragments are involved. It never throws on packet contents: broken or unknown layers are counted
 * in `anomalies` by kind and decoding stops at that layer (`out.transport === Transport.NONE`).
 *
 * Lengths: the IP header decides where the transport payload ends, so Ethernet padding and FCS
 * never reach TCP. When snaplen cut the packet, `payloadCaptured < payloadLength`.
 *
 * Link types: Ethernet II (802.3/LLC recognised; SNAP-encapsulated IP decoded, other LLC skipped),
 * 802.1Q/802.1ad (QinQ and deeper), Linux SLL and SLL2, BSD null and loop (either byte order), raw
 * IP (101, 12, 14, 228, 229), PPP (9, 50, with Cisco HDLC framing in 50), PPPoE session (in
 * Ethernet, and link type 51), Cisco HDLC (104), OpenBSD enc (109) and pflog (117), FDDI (10),
 * ARCNET (7, 129), IEEE 802.11 data frames (105) bare or behind radiotap (127), PPI (192), Prism
 * (119) or AVS (163) headers, Linux NFLOG (239), IP over InfiniBand (242), Juniper Ethernet (178).
 * Inside Ethernet: MPLS label stacks (with or without a pseudowire control word), 802.1ah PBB,
 * Cisco FabricPath. Tunnels: GRE (v0; v1 enhanced GRE carrying PPP; WCCP redirect; ERSPAN I, II
 * and III), VXLAN (UDP 4789), Geneve (6081), GTP-U (2152), Teredo (3544), IP-in-IP and 6in4.
 */
import { u16be, u32be } from '../util/bytes';
import { LinkType } from '../formats/linktypes';
import type { CapturedPacket } from '../formats/types';
import { DA, DecodeAnomalies } from './anomalies';
import { DEFAULT_DEFRAG, Defragmenter, type DefragOptions } from './defrag';
import {
  arcnetIpStart,
  erspan3Start,
  geneveStart,
  gtpuStart,
  HEADER_ENCRYPTED,
  HEADER_NOT_IP,
  juniperStart,
  nflogPayload,
  ppiHeader,
  prismEnd,
  radiotapEnd,
  teredoStart,
  wlanDataStart,
} from './headers';
import { DecodedPacket, Transport } from './layers';
import { decodeTcp } from './tcp';

export interface DecoderOptions {
  /** Verify IPv4 header checksums (counted as `ipv4-bad-checksum`; the packet is still decoded). */
  verifyChecksums?: boolean;
  /** IP fragment reassembly; `false` leaves fragments undecoded (fragmentHeld). */
  defrag?: Partial<DefragOptions> | false;
  /** Decode GRE, VXLAN and IP-in-IP inner packets (default true). */
  tunnels?: boolean;
  /** UDP destination ports that carry VXLAN (default [4789]). */
  vxlanPorts?: number[];
  /** UDP ports that carry Geneve (default [6081]), GTP-U (default [2152]) and Teredo (default [3544]). */
  genevePorts?: number[];
  gtpuPorts?: number[];
  teredoPorts?: number[];
}

const MAX_TUNNEL_DEPTH = 4;

export class PacketDecoder {
  readonly anomalies = new DecodeAnomalies();
  readonly out = new DecodedPacket(() => this.anomalies.inc(DA['tcp-bad-option']));
  readonly defrag: Defragmenter | null;
  private readonly verify: boolean;
  private readonly tunnels: boolean;
  private readonly vxlanPorts: number[];
  private readonly genevePorts: number[];
  private readonly gtpuPorts: number[];
  private readonly teredoPorts: number[];
  private readonly span = new Int32Array(2);
  private readonly juniper = { noL2: false };
  private now = 0;

  constructor(opts: DecoderOptions = {}) {
    this.verify = opts.verifyChecksums ?? false;
    this.tunnels = opts.tunnels ?? true;
    this.vxlanPorts = opts.vxlanPorts ?? [4789];
    this.genevePorts = opts.genevePorts ?? [6081];
    this.gtpuPorts = opts.gtpuPorts ?? [2152];
    this.teredoPorts = opts.teredoPorts ?? [3544];
    this.defrag = opts.defrag === false ? null : new Defragmenter({ ...DEFAULT_DEFRAG, ...(opts.defrag ?? {}) }, this.anomalies);
  }

  /** Decodes one captured packet into `this.out` (returned for convenience). */
  decode(p: CapturedPacket): DecodedPacket {
    const o = this.out;
    o.reset(p.linkType);
    o.buf = p.buf;
    this.now = p.tsSec;
    if (p.linkType === LinkType.ETHERNET) this.ethernet(p.buf, p.offset, p.offset + p.capLen);
    else this.link(p.linkType, p.buf, p.offset, p.offset + p.capLen);
    return o;
  }

  /** Decodes bytes b[off, off+capLen) of the given link type; `timeSec` drives fragment timeouts. */
  decodeBytes(linkType: number, b: Uint8Array, off: number, capLen: number, timeSec: number): DecodedPacket {
    this.out.reset(linkType);
    this.out.buf = b;
    this.now = timeSec;
    this.link(linkType, b, off, off + capLen);
    return this.out;
  }

  private link(lt: number, b: Uint8Array, off: number, end: number): void {
    const avail = end - off;
    switch (lt) {
      case LinkType.ETHERNET: // Ethernet
        return this.ethernet(b, off, end);
      case LinkType.NULL: // BSD null: address family in the capturing host's byte order
      case LinkType.LOOP: {
        // loop: network byte order
        if (avail < 4) return this.an(DA['truncated-link-header']);
        let fam: number;
        if (lt === LinkType.LOOP) fam = u32be(b, off);
        else fam = b[off] === 0 && b[off + 1] === 0 ? u32be(b, off) : b[off] | (b[off + 1] << 8);
        if (fam === 2) return this.ipv4(b, off + 4, end);
        if (fam === 10 || fam === 23 || fam === 24 || fam === 28 || fam === 30) return this.ipv6(b, off + 4, end);
        return this.an(DA['non-ip']);
      }
      case LinkType.RAW:
      case LinkType.RAW_OPENBSD:
      case LinkType.RAW_BSDOS:
        return this.rawIp(b, off, end);
      case LinkType.IPV4:
        return this.ipv4(b, off, end);
      case LinkType.IPV6:
        return this.ipv6(b, off, end);
      case LinkType.LINUX_SLL: // Linux SLL: 16-byte header, protocol at 14
        if (avail < 16) return this.an(DA['truncated-link-header']);
        return this.sllProtocol(u16be(b, off + 2), u16be(b, off + 14), b, off + 16, end);
      case LinkType.LINUX_SLL2: // Linux SLL2: 20-byte header, protocol at 0, ARPHRD type at 8
        if (avail < 20) return this.an(DA['truncated-link-header']);
        return this.sllProtocol(u16be(b, off + 8), u16be(b, off), b, off + 20, end);
      case LinkType.PPP_HDLC: // PPP in HDLC-like framing, or Cisco PPP with HDLC framing (address 0x0F / 0x8F)
        if (avail >= 1 && (b[off] === 0x0f || b[off] === 0x8f)) return this.ciscoHdlc(b, off, end);
        return this.ppp(b, off, end, true);
      case LinkType.PPP:
        return this.ppp(b, off, end, true);
      case LinkType.PPP_ETHER: // PPPoE session payload (no Ethernet header)
        return this.pppoeSession(b, off, end);
      case LinkType.C_HDLC: // Cisco HDLC: address, control, ethertype
        return this.ciscoHdlc(b, off, end);
      case LinkType.ENC: // OpenBSD enc: address family (host order), SPI, flags
        if (avail < 12) return this.an(DA['truncated-link-header']);
        return this.rawIp(b, off + 12, end);
      case LinkType.PFLOG: {
        // OpenBSD/FreeBSD pflog: header length (word-aligned) first, address family second
        if (avail < 4) return this.an(DA['truncated-link-header']);
        const h = (b[off] + 3) & ~3;
        if (h < 4 || h > avail) return this.an(DA['truncated-link-header']);
        return this.rawIp(b, off + h, end);
      }
      case LinkType.FDDI: // FDDI: frame control, destination, source, then 802.2 LLC
        if (avail < 13) return this.an(DA['truncated-link-header']);
        return this.llc(b, off + 13, end);
      case LinkType.ARCNET_BSD:
      case LinkType.ARCNET_LINUX:
        return this.next(arcnetIpStart(b, off, end, lt === LinkType.ARCNET_LINUX), b, end, 'ip');
      case LinkType.IEEE802_11:
        return this.wlan(b, off, end);
      case LinkType.RADIOTAP:
        return this.next(radiotapEnd(b, off, end), b, end, 'wlan');
      case LinkType.PRISM:
      case LinkType.AVS:
        return this.next(prismEnd(b, off, end), b, end, 'wlan');
      case LinkType.PPI: {
        const h = ppiHeader(b, off, end);
        if (typeof h === 'number') return this.next(h, b, end, 'ip');
        if (h.linkType === LinkType.PPI) return this.an(DA['unsupported-link-type']);
        return this.link(h.linkType, b, h.next, end);
      }
      case LinkType.NFLOG: {
        const r = nflogPayload(b, off, end, this.span);
        if (r < 0) return this.next(r, b, end, 'ip');
        return this.rawIp(b, this.span[0], this.span[1]);
      }
      case LinkType.IPOIB: // IP over InfiniBand: a 40-byte GRH or destination-address pseudo-header, then RFC 4391's type and reserved bytes
        if (avail < 44) return this.an(DA['truncated-link-header']);
        return this.ethertype(u16be(b, off + 40), b, off + 44, end);
      case LinkType.JUNIPER_ETHER: {
        const p = juniperStart(b, off, end, this.juniper);
        if (p < 0 || this.juniper.noL2) return this.next(p, b, end, 'ip');
        return this.ethernet(b, p, end);
      }
      default:
        return this.an(DA['unsupported-link-type']);
    }
  }

  /** Continues at `p` (from a header walker) with raw IP or an 802.11 frame, or counts why not. */
  private next(p: number, b: Uint8Array, end: number, what: 'ip' | 'wlan'): void {
    if (p === HEADER_NOT_IP) return this.an(DA['non-ip']);
    if (p === HEADER_ENCRYPTED) return this.an(DA['wlan-encrypted']);
    if (p < 0) return this.an(DA['truncated-link-header']);
    return what === 'ip' ? this.rawIp(b, p, end) : this.wlan(b, p, end);
  }

  private wlan(b: Uint8Array, off: number, end: number): void {
    const p = wlanDataStart(b, off, end);
    if (p < 0) return this.next(p, b, end, 'ip');
    return this.llc(b, p, end);
  }

  /** Cisco HDLC: address (0x0F unicast, 0x8F broadcast), control, ethertype. */
  private ciscoHdlc(b: Uint8Array, off: number, end: number): void {
    if (end - off < 4) return this.an(DA['truncated-link-header']);
    return this.ethertype(u16be(b, off + 2), b, off + 4, end);
  }

  private an(kind: number): void {
    this.anomalies.inc(kind);
  }

  private sllProtocol(arphrd: number, proto: number, b: Uint8Array, off: number, end: number): void {
    // ARPHRD_IPGRE (778): the protocol field is the GRE protocol type; ethertypes otherwise.
    // Values below 0x0600 are Linux pseudo-protocols (802.2 LLC, 802.3 raw, CAN, …), not IP.
    if (arphrd !== 778 && proto < 0x0600) return this.an(DA['non-ip']);
    return this.ethertype(proto, b, off, end);
  }

  private rawIp(b: Uint8Array, off: number, end: number): void {
    if (end - off < 1) return this.an(DA['truncated-link-header']);
    const v = b[off] >>> 4;
    if (v === 4) return this.ipv4(b, off, end);
    if (v === 6) return this.ipv6(b, off, end);
    return this.an(DA['ipv4-bad-version']);
  }

  private ethernet(b: Uint8Array, off: number, end: number): void {
    if (end - off < 14) return this.an(DA['truncated-link-header']);
    const type = (b[off + 12] << 8) | b[off + 13];
    if (type === 0x0800) return this.ipv4(b, off + 14, end);
    if (type <= 1500) return this.llc(b, off + 14, Math.min(end, off + 14 + type));
    if (type < 0x0600) return this.an(DA['non-ip']);
    return this.ethertype(type, b, off + 14, end);
  }

  /** 802.3 frame: IEEE 802.2 LLC; SNAP (AA AA 03, OUI 000000) carries an ethertype. */
  private llc(b: Uint8Array, off: number, end: number): void {
    if (end - off >= 8 && b[off] === 0xaa && b[off + 1] === 0xaa && b[off + 2] === 0x03 && b[off + 3] === 0 && b[off + 4] === 0 && b[off + 5] === 0)
      return this.ethertype(u16be(b, off + 6), b, off + 8, end);
    return this.an(DA['llc-frame']);
  }

  private ethertype(type: number, b: Uint8Array, off: number, end: number): void {
    switch (type) {
      case 0x0800:
        return this.ipv4(b, off, end);
      case 0x86dd:
        return this.ipv6(b, off, end);
      case 0x8100:
      case 0x88a8:
      case 0x9100:
      case 0x9200: {
        if (end - off < 4) return this.an(DA['truncated-link-header']);
        const o = this.out;
        const id = u16be(b, off) & 0x0fff;
        if (o.vlanCount === 0) o.vlan = id;
        else if (o.vlanCount === 1) o.vlanInner = id;
        o.vlanCount++;
        if (o.vlanCount > 8) return this.an(DA['truncated-link-header']);
        return this.ethertype(u16be(b, off + 2), b, off + 4, end);
      }
      case 0x8864:
        return this.pppoeSession(b, off, end);
      case 0x880b:
        return this.ppp(b, off, end, true);
      case 0x6558: // transparent Ethernet bridging, inside GRE/NVGRE (the tunnel is counted there)
        return this.ethernet(b, off, end);
      case 0x8847:
      case 0x8848:
        return this.mpls(b, off, end);
      case 0x88e7: // 802.1ah PBB: a 4-byte I-TAG, then the customer's Ethernet frame
        if (end - off < 4) return this.an(DA['truncated-link-header']);
        return this.ethernet(b, off + 4, end);
      case 0x8903: // Cisco FabricPath: FTag and TTL, then the original Ethernet frame
        if (end - off < 2) return this.an(DA['truncated-link-header']);
        return this.ethernet(b, off + 2, end);
      default:
        return this.an(DA['non-ip']);
    }
  }

  /**
   * MPLS label stack (RFC 3032): 4-byte entries until the bottom-of-stack bit. What follows has
   * no type field. A first nibble of 4 or 6 is IP (as tshark reads it). Otherwise it is an
   * Ethernet pseudowire (RFC 4448), with a control word (RFC 4385, first nibble 0) or without:
   * tshark guesses from its vendor table whether the first 12 bytes are two MAC addresses; Weft
   * asks which reading puts an ethertype it knows where an ethertype belongs.
   */
  private mpls(b: Uint8Array, off: number, end: number): void {
    let p = off;
    for (let n = 0; ; n++) {
      if (end - p < 4 || n >= 16) return this.an(DA['truncated-link-header']);
      const bottom = (b[p + 2] & 0x01) !== 0;
      p += 4;
      if (bottom) break;
    }
    if (end - p < 1) return this.an(DA['truncated-link-header']);
    const nib = b[p] >>> 4;
    if (nib === 4) return this.ipv4(b, p, end);
    if (nib === 6) return this.ipv6(b, p, end);
    if (nib === 0 && !knownEthertypeAt(b, p + 12, end) && knownEthertypeAt(b, p + 16, end)) p += 4;
    return this.ethernet(b, p, end);
  }

  private pppoeSession(b: Uint8Array, off: number, end: number): void {
    if (end - off < 8) return this.an(DA['truncated-link-header']);
    this.out.pppoeSession = u16be(b, off + 2);
    const len = u16be(b, off + 4);
    const pend = Math.min(end, off + 6 + len);
    return this.ppp(b, off + 6, pend, false);
  }

  /** PPP: optional FF 03 address/control, then a 1- or 2-byte protocol (odd low byte ends it). */
  private ppp(b: Uint8Array, off: number, end: number, mayHaveAddress: boolean): void {
    if (mayHaveAddress && end - off >= 2 && b[off] === 0xff && b[off + 1] === 0x03) off += 2;
    if (end - off < 1) return this.an(DA['truncated-link-header']);
    let proto: number;
    if (b[off] & 1) {
      proto = b[off];
      off += 1;
    } else {
      if (end - off < 2) return this.an(DA['truncated-link-header']);
      proto = u16be(b, off);
      off += 2;
    }
    if (proto === 0x21) return this.ipv4(b, off, end);
    if (proto === 0x57) return this.ipv6(b, off, end);
    return this.an(DA['non-ip']);
  }

  private tunnel(): boolean {
    if (!this.tunnels) return false;
    if (++this.out.tunnelDepth > MAX_TUNNEL_DEPTH) {
      this.an(DA['tunnel-too-deep']);
      return false;
    }
    return true;
  }

  // Hot path: kept small so V8 inlines it; fragments and checksum checks live in cold methods.
  private ipv4(b: Uint8Array, off: number, end: number): void {
    const avail = end - off;
    if (avail < 20) return this.an(DA['ipv4-truncated-header']);
    const vihl = b[off];
    if (vihl >>> 4 !== 4) return this.an(DA['ipv4-bad-version']);
    const ihl = (vihl & 15) << 2;
    if (ihl < 20) return this.an(DA['ipv4-bad-header-length']);
    if (ihl > avail) return this.an(DA['ipv4-truncated-header']);
    let total = (b[off + 2] << 8) | b[off + 3];
    if (total < ihl) {
      // TSO/GSO super-segments are often captured with a zero total length.
      if (total !== 0 || avail <= ihl) return this.an(DA['ipv4-bad-total-length']);
      this.an(DA['ipv4-zero-total-length']);
      total = avail;
    }
    const o = this.out;
    o.ipVersion = 4;
    o.ttl = b[off + 8];
    o.ipId = (b[off + 4] << 8) | b[off + 5];
    const proto = b[off + 9];
    o.ipProto = proto;
    const s = o.src;
    const d = o.dst;
    s[0] = b[off + 12];
    s[1] = b[off + 13];
    s[2] = b[off + 14];
    s[3] = b[off + 15];
    d[0] = b[off + 16];
    d[1] = b[off + 17];
    d[2] = b[off + 18];
    d[3] = b[off + 19];
    if (this.verify) this.checkIpv4(b, off, ihl);
    const ipEnd = off + total;
    if (ipEnd > end) this.an(DA['ip-payload-truncated']);
    // MF flag (0x20) or a non-zero fragment offset (low 13 bits of bytes 6..7)
    if ((b[off + 6] & 0x3f) !== 0 || b[off + 7] !== 0) return this.ipv4Fragment(b, off, ihl, ipEnd, end, proto);
    return this.ipPayload(proto, b, off + ihl, ipEnd, end);
  }

  private checkIpv4(b: Uint8Array, off: number, ihl: number): void {
    const ok = ipv4HeaderChecksum(b, off, ihl) === 0;
    this.out.ipChecksumOk = ok ? 1 : 0;
    if (!ok) this.an(DA['ipv4-bad-checksum']);
  }

  private ipv4Fragment(b: Uint8Array, off: number, ihl: number, ipEnd: number, end: number, proto: number): void {
    const o = this.out;
    const flagsFrag = u16be(b, off + 6);
    const more = (flagsFrag & 0x2000) !== 0;
    const fragOff = (flagsFrag & 0x1fff) * 8;
    if (!this.defrag) {
      o.fragmentHeld = true;
      return;
    }
    if (ipEnd > end) {
      // A fragment cut by snaplen cannot be reassembled.
      this.an(DA['frag-bad']);
      return;
    }
    const key = `4|${o.src[0]}.${o.src[1]}.${o.src[2]}.${o.src[3]}|${o.dst[0]}.${o.dst[1]}.${o.dst[2]}.${o.dst[3]}|${o.ipId}|${proto}|${o.vlan}`;
    const whole = this.defrag.add(key, fragOff, more, b.subarray(off + ihl, ipEnd), this.now);
    if (!whole) {
      o.fragmentHeld = true;
      return;
    }
    o.reassembled = true;
    o.buf = whole;
    return this.ipPayload(proto, whole, 0, whole.length, whole.length);
  }

  private ipv6(b: Uint8Array, off: number, end: number): void {
    const o = this.out;
    const avail = end - off;
    if (avail < 40) return this.an(DA['ipv6-truncated-header']);
    if (b[off] >>> 4 !== 6) return this.an(DA['ipv6-bad-version']);
    const payloadLen = u16be(b, off + 4);
    let next = b[off + 6];
    o.ipVersion = 6;
    o.ttl = b[off + 7];
    copy16(b, off + 8, o.src);
    copy16(b, off + 24, o.dst);
    let ipEnd = off + 40 + payloadLen;
    let p = off + 40;
    const capEnd = end;
    // Extension headers. The jumbo payload option (RFC 2675) may replace a zero payload length.
    for (;;) {
      if (next === 0 || next === 43 || next === 60 || next === 135 || next === 139 || next === 140 || next === 51) {
        // A jumbogram's hop-by-hop header lies beyond the (zero) payload length until it is read.
        const limit = payloadLen === 0 && next === 0 && p === off + 40 ? capEnd : Math.min(capEnd, ipEnd);
        if (limit - p < 2) return this.an(DA['ipv6-bad-extension-header']);
        const hlen = next === 51 ? (b[p + 1] + 2) * 4 : (b[p + 1] + 1) * 8;
        if (p + hlen > limit) return this.an(DA['ipv6-bad-extension-header']);
        if (next === 0) {
          const jumbo = findJumbo(b, p + 2, p + hlen);
          if (jumbo >= 0) {
            if (payloadLen !== 0 || jumbo < 65536) return this.an(DA['ipv6-bad-jumbogram']);
            ipEnd = off + 40 + jumbo;
          } else if (jumbo === -2) return this.an(DA['ipv6-bad-jumbogram']);
        }
        if (p + hlen > ipEnd) return this.an(DA['ipv6-bad-extension-header']);
        next = b[p];
        p += hlen;
        continue;
      }
      if (next === 44) {
        if (p + 8 > Math.min(capEnd, ipEnd)) return this.an(DA['ipv6-bad-extension-header']);
        const fnext = b[p];
        const fo = u16be(b, p + 2);
        const fragOff = fo & 0xfff8;
        const more = (fo & 1) !== 0;
        const id = u32be(b, p + 4);
        p += 8;
        if (fragOff === 0 && !more) {
          // Atomic fragment (RFC 6946): not really fragmented.
          next = fnext;
          continue;
        }
        if (!this.defrag) {
          o.ipProto = fnext;
          o.fragmentHeld = true;
          return;
        }
        if (ipEnd > capEnd) {
          this.an(DA['ip-payload-truncated']);
          this.an(DA['frag-bad']);
          return;
        }
        const key = `6|${hex16(o.src)}|${hex16(o.dst)}|${id}|${o.vlan}`;
        const whole = this.defrag.add(key, fragOff, more, b.subarray(p, ipEnd), this.now);
        if (!whole) {
          o.ipProto = fnext;
          o.fragmentHeld = true;
          return;
        }
        o.reassembled = true;
        o.buf = whole;
        return this.ipv6Upper(fnext, whole, 0, whole.length, whole.length);
      }
      break;
    }
    if (ipEnd > capEnd) this.an(DA['ip-payload-truncated']);
    return this.ipv6Upper(next, b, p, ipEnd, capEnd);
  }

  /** Extension headers may follow the fragment header inside the reassembled payload. */
  private ipv6Upper(next: number, b: Uint8Array, p: number, ipEnd: number, capEnd: number): void {
    while (next === 43 || next === 60 || next === 51) {
      if (Math.min(ipEnd, capEnd) - p < 2) return this.an(DA['ipv6-bad-extension-header']);
      const hlen = next === 51 ? (b[p + 1] + 2) * 4 : (b[p + 1] + 1) * 8;
      if (p + hlen > Math.min(ipEnd, capEnd)) return this.an(DA['ipv6-bad-extension-header']);
      next = b[p];
      p += hlen;
    }
    this.out.ipProto = next;
    return this.ipPayload(next, b, p, ipEnd, capEnd);
  }

  private ipPayload(proto: number, b: Uint8Array, off: number, ipEnd: number, capEnd: number): void {
    const o = this.out;
    o.ipProto = proto;
    switch (proto) {
      case 6: {
        const h = decodeTcp(b, off, ipEnd, capEnd, o.tcp, this.anomalies);
        if (h < 0) return;
        this.setPayload(b, off + h, ipEnd, capEnd);
        o.transport = Transport.TCP;
        return;
      }
      case 17:
        return this.udp(b, off, ipEnd, capEnd);
      case 47:
        return this.gre(b, off, Math.min(ipEnd, capEnd));
      case 4:
        return this.tunnel() ? this.ipv4(b, off, Math.min(ipEnd, capEnd)) : this.other(b, off, ipEnd, capEnd);
      case 41:
        return this.tunnel() ? this.ipv6(b, off, Math.min(ipEnd, capEnd)) : this.other(b, off, ipEnd, capEnd);
      default:
        return this.other(b, off, ipEnd, capEnd);
    }
  }

  private other(b: Uint8Array, off: number, ipEnd: number, capEnd: number): void {
    this.setPayload(b, off, ipEnd, capEnd);
    this.out.transport = Transport.OTHER;
  }

  private setPayload(b: Uint8Array, start: number, ipEnd: number, capEnd: number): void {
    const o = this.out;
    o.buf = b;
    o.payloadOffset = start;
    const len = ipEnd - start;
    const cap = (ipEnd < capEnd ? ipEnd : capEnd) - start;
    o.payloadLength = len > 0 ? len : 0;
    o.payloadCaptured = cap > 0 ? cap : 0;
  }

  private udp(b: Uint8Array, off: number, ipEnd: number, capEnd: number): void {
    const o = this.out;
    if (Math.min(ipEnd, capEnd) - off < 8) return this.an(DA['udp-truncated-header']);
    const u = o.udp;
    u.srcPort = u16be(b, off);
    u.dstPort = u16be(b, off + 2);
    u.length = u16be(b, off + 4);
    u.checksum = u16be(b, off + 6);
    let uEnd = ipEnd;
    if (u.length < 8 || off + u.length > ipEnd) this.an(DA['udp-bad-length']);
    else uEnd = off + u.length;
    this.setPayload(b, off + 8, uEnd, capEnd);
    o.transport = Transport.UDP;
    if (!this.tunnels || o.payloadCaptured < 8) return;
    const p = off + 8;
    const e = Math.min(uEnd, capEnd);
    if (this.vxlanPorts.includes(u.dstPort)) {
      if (o.payloadCaptured < 8 + 14 || (b[p] & 0x08) === 0 || !this.tunnel()) return;
      o.transport = Transport.NONE;
      return this.ethernet(b, p + 8, e);
    }
    if (this.genevePorts.includes(u.dstPort)) {
      const q = geneveStart(b, p, e);
      if (q < 0 || !this.tunnel()) return;
      o.transport = Transport.NONE;
      const proto = u16be(b, p + 2);
      return proto === 0x6558 ? this.ethernet(b, q, e) : this.ethertype(proto, b, q, e);
    }
    if (this.gtpuPorts.includes(u.dstPort) || this.gtpuPorts.includes(u.srcPort)) {
      const q = gtpuStart(b, p, e);
      if (q < 0 || e - q < 20 || !this.tunnel()) return;
      o.transport = Transport.NONE;
      return this.rawIp(b, q, e);
    }
    if (this.teredoPorts.includes(u.dstPort) || this.teredoPorts.includes(u.srcPort)) {
      const q = teredoStart(b, p, e);
      if (q < 0 || !this.tunnel()) return;
      o.transport = Transport.NONE;
      return this.ipv6(b, q, e);
    }
  }

  private gre(b: Uint8Array, off: number, end: number): void {
    if (!this.tunnels) return this.other(b, off, end, end);
    if (end - off < 4) return this.an(DA['gre-unsupported']);
    const flags = u16be(b, off);
    const version = flags & 7;
    const proto = u16be(b, off + 2);
    let h = 4;
    if (version === 0) {
      if (flags & 0x4000) return this.an(DA['gre-unsupported']); // source routing (RFC 1701)
      if (flags & 0x8000) h += 4; // checksum + reserved
      if (flags & 0x2000) h += 4; // key
      if (flags & 0x1000) h += 4; // sequence
    } else if (version === 1) {
      // Enhanced GRE (PPTP, RFC 2637): key always present; sequence and ack optional.
      h += 4;
      if (flags & 0x1000) h += 4;
      if (flags & 0x0080) h += 4;
    } else return this.an(DA['gre-unsupported']);
    if (end - off < h) return this.an(DA['gre-unsupported']);
    if (!this.tunnel()) return;
    let p = off + h;
    if (proto === 0x883e) {
      // WCCP: a 4-byte redirect header precedes the IP packet unless it starts right away.
      if (end - p >= 1 && b[p] >>> 4 !== 4) p += 4;
      return this.ipv4(b, p, end);
    }
    if (proto === 0x88be) {
      // ERSPAN: type II carries an 8-byte header and sets GRE's sequence flag; type I has neither
      if (flags & 0x1000) {
        if (end - p < 8) return this.an(DA['truncated-link-header']);
        p += 8;
      }
      return this.ethernet(b, p, end);
    }
    if (proto === 0x22eb) {
      const q = erspan3Start(b, p, end);
      if (q < 0) return this.an(DA['truncated-link-header']);
      return this.ethernet(b, q, end);
    }
    if (version === 1 && proto === 0x880b) {
      if (end - p === 0) return; // ack-only
      return this.ppp(b, p, end, true);
    }
    return this.ethertype(proto, b, p, end);
  }
}

/** An ethertype that starts a layer Weft reads (IP, VLAN tags, MPLS, PPPoE) at b[o]. */
function knownEthertypeAt(b: Uint8Array, o: number, end: number): boolean {
  if (end - o < 2) return false;
  const t = u16be(b, o);
  return t === 0x0800 || t === 0x86dd || t === 0x8100 || t === 0x88a8 || t === 0x8847 || t === 0x8848 || t === 0x8864 || t === 0x0806;
}

/** Returns the jumbo payload length, -1 if no jumbo option, -2 if the option is malformed. */
function findJumbo(b: Uint8Array, o: number, end: number): number {
  while (o < end) {
    const t = b[o];
    if (t === 0) {
      o++;
      continue;
    }
    if (o + 1 >= end) return -2;
    const len = b[o + 1];
    if (o + 2 + len > end) return -2;
    if (t === 0xc2) return len === 4 ? u32be(b, o + 2) : -2;
    o += 2 + len;
  }
  return -1;
}

/** Copies 16 bytes; unrolled because it runs for every IPv6 packet. */
function copy16(b: Uint8Array, o: number, to: Uint8Array): void {
  to[0] = b[o];
  to[1] = b[o + 1];
  to[2] = b[o + 2];
  to[3] = b[o + 3];
  to[4] = b[o + 4];
  to[5] = b[o + 5];
  to[6] = b[o + 6];
  to[7] = b[o + 7];
  to[8] = b[o + 8];
  to[9] = b[o + 9];
  to[10] = b[o + 10];
  to[11] = b[o + 11];
  to[12] = b[o + 12];
  to[13] = b[o + 13];
  to[14] = b[o + 14];
  to[15] = b[o + 15];
}

function hex16(a: Uint8Array): string {
  let s = '';
  for (let i = 0; i < 16; i++) s += a[i].toString(16).padStart(2, '0');
  return s;
}

/** One's-complement sum over the IPv4 header; 0 when the checksum is right. */
function ipv4HeaderChecksum(b: Uint8Array, off: number, len: number): number {
  let sum = 0;
  for (let i = 0; i < len; i += 2) sum += (b[off + i] << 8) | b[off + i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
