/**
 * Decoder tables: each row is a packet built layer by layer and what the decoder must find.
 */
import { describe, expect, it } from 'vitest';
import { DECODE_ANOMALY_NAMES, formatIPv6, PacketDecoder, Transport, type DecoderOptions } from '../../main/engine/decode';
import { heapGrowth } from '../helpers/heap';
import { bytes, ether, ext6, frag6, ipv4, ipv6, tcp, text, u16, u32, udp, V6A, vlan } from '../helpers/packet-builder';

const HELLO = text('hello, world');
const seg = (payload = HELLO) => tcp({ sport: 40000, dport: 80, seq: 1000, ack: 2000, flags: 0x18 }, payload);
const v4tcp = (payload = HELLO) => ipv4({ proto: 6 }, seg(payload));
const v6tcp = (payload = HELLO) => ipv6(6, seg(payload));

function decode(linkType: number, pkt: Uint8Array, opts?: DecoderOptions, dec = new PacketDecoder(opts)) {
  const d = dec.decodeBytes(linkType, pkt, 0, pkt.length, 0);
  return { d, dec, an: dec.anomalies.toObject(), payload: Buffer.from(d.payload()).toString('latin1') };
}

interface Row {
  name: string;
  link: number;
  pkt: Uint8Array;
  ip: number; // 0 = no IP expected
  transport: number;
  payload?: string;
  vlan?: number;
  vlanInner?: number;
  tunnel?: number;
  anomaly?: string;
}

const rows: Row[] = [
  { name: 'Ethernet II / IPv4 / TCP', link: 1, pkt: ether(0x0800, v4tcp()), ip: 4, transport: 6, payload: 'hello, world' },
  { name: 'Ethernet padding and FCS never reach TCP', link: 1, pkt: ether(0x0800, ipv4({}, seg(text('ab'))), 64, true), ip: 4, transport: 6, payload: 'ab' },
  { name: 'Ethernet II / IPv6 / TCP', link: 1, pkt: ether(0x86dd, v6tcp()), ip: 6, transport: 6, payload: 'hello, world' },
  { name: '802.1Q', link: 1, pkt: ether(0x8100, vlan(0x2064, 0x0800, v4tcp())), ip: 4, transport: 6, vlan: 100, payload: 'hello, world' },
  {
    name: '802.1ad QinQ',
    link: 1,
    pkt: ether(0x88a8, vlan(10, 0x8100, vlan(20, 0x86dd, v6tcp()))),
    ip: 6,
    transport: 6,
    vlan: 10,
    vlanInner: 20,
    payload: 'hello, world',
  },
  { name: '802.3 / LLC skipped', link: 1, pkt: ether(40, bytes([0x42, 0x42, 0x03], new Array(37).fill(0))), ip: 0, transport: 0, anomaly: 'llc-frame' },
  { name: '802.3 / SNAP / IPv4', link: 1, pkt: ether(8 + 52, bytes([0xaa, 0xaa, 0x03, 0, 0, 0], u16(0x0800), v4tcp())), ip: 4, transport: 6, payload: 'hello, world' },
  { name: 'ARP is not IP', link: 1, pkt: ether(0x0806, new Uint8Array(28)), ip: 0, transport: 0, anomaly: 'non-ip' },
  { name: 'PPPoE session', link: 1, pkt: ether(0x8864, bytes([0x11, 0x00], u16(7), u16(2 + 52), u16(0x0021), v4tcp())), ip: 4, transport: 6, payload: 'hello, world' },
  { name: 'Linux SLL', link: 113, pkt: bytes(u16(0), u16(1), u16(6), [1, 2, 3, 4, 5, 6, 0, 0], u16(0x0800), v4tcp()), ip: 4, transport: 6, payload: 'hello, world' },
  { name: 'Linux SLL2', link: 276, pkt: bytes(u16(0x86dd), u16(0), u32(2), u16(1), [0, 6], [1, 2, 3, 4, 5, 6, 0, 0], v6tcp()), ip: 6, transport: 6, payload: 'hello, world' },
  { name: 'null, little-endian AF_INET', link: 0, pkt: bytes([2, 0, 0, 0], v4tcp()), ip: 4, transport: 6, payload: 'hello, world' },
  { name: 'null, big-endian AF_INET', link: 0, pkt: bytes([0, 0, 0, 2], v4tcp()), ip: 4, transport: 6, payload: 'hello, world' },
  { name: 'null, AF_INET6 = 30 (macOS)', link: 0, pkt: bytes([30, 0, 0, 0], v6tcp()), ip: 6, transport: 6, payload: 'hello, world' },
  { name: 'null, AF_INET6 = 24 (OpenBSD)', link: 0, pkt: bytes([24, 0, 0, 0], v6tcp()), ip: 6, transport: 6, payload: 'hello, world' },
  { name: 'loop (network order)', link: 108, pkt: bytes([0, 0, 0, 2], v4tcp()), ip: 4, transport: 6, payload: 'hello, world' },
  { name: 'raw 101 / IPv4', link: 101, pkt: v4tcp(), ip: 4, transport: 6, payload: 'hello, world' },
  { name: 'raw 101 / IPv6', link: 101, pkt: v6tcp(), ip: 6, transport: 6, payload: 'hello, world' },
  { name: 'raw 12', link: 12, pkt: v4tcp(), ip: 4, transport: 6, payload: 'hello, world' },
  { name: 'raw 14', link: 14, pkt: v6tcp(), ip: 6, transport: 6, payload: 'hello, world' },
  { name: 'LINKTYPE_IPV4 228', link: 228, pkt: v4tcp(), ip: 4, transport: 6, payload: 'hello, world' },
  { name: 'LINKTYPE_IPV6 229', link: 229, pkt: v6tcp(), ip: 6, transport: 6, payload: 'hello, world' },
  { name: 'PPP with address/control', link: 9, pkt: bytes([0xff, 0x03], u16(0x0021), v4tcp()), ip: 4, transport: 6, payload: 'hello, world' },
  { name: 'PPP, compressed protocol', link: 9, pkt: bytes([0x57], v6tcp()), ip: 6, transport: 6, payload: 'hello, world' },
  { name: 'PPP in HDLC framing (50)', link: 50, pkt: bytes([0xff, 0x03], u16(0x0057), v6tcp()), ip: 6, transport: 6, payload: 'hello, world' },
  { name: 'PPPoE without Ethernet (51)', link: 51, pkt: bytes([0x11, 0], u16(1), u16(54), u16(0x0021), v4tcp()), ip: 4, transport: 6, payload: 'hello, world' },
  { name: 'Cisco HDLC', link: 104, pkt: bytes([0x0f, 0x00], u16(0x0800), v4tcp()), ip: 4, transport: 6, payload: 'hello, world' },
  { name: 'unknown link type', link: 65534, pkt: v4tcp(), ip: 0, transport: 0, anomaly: 'unsupported-link-type' },
  { name: 'IPv4 with options', link: 101, pkt: ipv4({ options: [1, 1, 1, 0] }, seg()), ip: 4, transport: 6, payload: 'hello, world' },
  { name: 'IPv4 total length below header', link: 101, pkt: ipv4({ totalLength: 12 }, seg()), ip: 0, transport: 0, anomaly: 'ipv4-bad-total-length' },
  { name: 'IPv4 zero total length (TSO)', link: 101, pkt: ipv4({ totalLength: 0 }, seg()), ip: 4, transport: 6, payload: 'hello, world', anomaly: 'ipv4-zero-total-length' },
  { name: 'IPv4 header length < 20', link: 101, pkt: bytes([0x44], v4tcp().subarray(1)), ip: 0, transport: 0, anomaly: 'ipv4-bad-header-length' },
  { name: 'IPv4 truncated header', link: 101, pkt: v4tcp().subarray(0, 12), ip: 0, transport: 0, anomaly: 'ipv4-truncated-header' },
  { name: 'not IP at all on raw', link: 101, pkt: Uint8Array.from([0x10, 1, 2]), ip: 0, transport: 0, anomaly: 'ipv4-bad-version' },
  { name: 'IPv6 hop-by-hop, routing, destination options', link: 229, pkt: ipv6(0, bytes(ext6(43, [1, 0, 0, 0]), ext6(60, [0, 0, 0, 0, 0, 0]), ext6(6, [1, 4, 0, 0, 0, 0]), seg())), ip: 6, transport: 6, payload: 'hello, world' },
  { name: 'IPv6 extension header overrunning', link: 229, pkt: ipv6(60, Uint8Array.from([6, 200, 0, 0]), { payloadLength: 4 }), ip: 6, transport: 0, anomaly: 'ipv6-bad-extension-header' },
  { name: 'IPv6 no next header', link: 229, pkt: ipv6(59, new Uint8Array(0)), ip: 6, transport: 255 },
  { name: 'UDP', link: 101, pkt: ipv4({ proto: 17 }, udp(53, 5353, text('dns?'))), ip: 4, transport: 17, payload: 'dns?' },
  { name: 'UDP length beyond IP', link: 101, pkt: ipv4({ proto: 17 }, udp(53, 5353, text('dns?'), 200)), ip: 4, transport: 17, payload: 'dns?', anomaly: 'udp-bad-length' },
  { name: 'ICMP is other IP', link: 101, pkt: ipv4({ proto: 1 }, new Uint8Array(8)), ip: 4, transport: 255 },
  { name: 'GRE v0 with key / IPv4 / TCP', link: 101, pkt: ipv4({ proto: 47, src: [1, 1, 1, 1] }, bytes(u16(0x2000), u16(0x0800), u32(77), v4tcp())), ip: 4, transport: 6, tunnel: 1, payload: 'hello, world' },
  { name: 'GRE / transparent Ethernet', link: 101, pkt: ipv4({ proto: 47 }, bytes(u16(0), u16(0x6558), ether(0x86dd, v6tcp()))), ip: 6, transport: 6, tunnel: 1, payload: 'hello, world' },
  { name: 'GRE / WCCP redirect header', link: 101, pkt: ipv4({ proto: 47 }, bytes(u16(0), u16(0x883e), [0, 0, 0, 0], v4tcp())), ip: 4, transport: 6, tunnel: 1, payload: 'hello, world' },
  { name: 'enhanced GRE (PPTP) / PPP / IPv4', link: 101, pkt: ipv4({ proto: 47 }, bytes(u16(0x3001), u16(0x880b), u16(56), u16(9), u32(1), [0xff, 0x03], u16(0x21), v4tcp())), ip: 4, transport: 6, tunnel: 1, payload: 'hello, world' },
  { name: 'GRE with source routing', link: 101, pkt: ipv4({ proto: 47 }, bytes(u16(0x4000), u16(0x0800), u32(0), v4tcp())), ip: 4, transport: 0, anomaly: 'gre-unsupported' },
  { name: 'VXLAN', link: 1, pkt: ether(0x0800, ipv4({ proto: 17 }, udp(5000, 4789, bytes([0x08, 0, 0, 0], u32(0x00123400), ether(0x0800, v4tcp()))))), ip: 4, transport: 6, tunnel: 1, payload: 'hello, world' },
  { name: 'IPv4 in IPv4', link: 101, pkt: ipv4({ proto: 4 }, v4tcp()), ip: 4, transport: 6, tunnel: 1, payload: 'hello, world' },
  { name: 'IPv6 in IPv4 (6in4)', link: 101, pkt: ipv4({ proto: 41 }, v6tcp()), ip: 6, transport: 6, tunnel: 1, payload: 'hello, world' },
  // Link layers and encapsulations beyond the common ones: the paths the fixtures do not take.
  { name: '802.11 protected data is counted, not read', link: 105, pkt: bytes([0x08, 0x41, 0, 0], new Array(20).fill(0), [0xaa, 0xaa, 0x03, 0, 0, 0], u16(0x0800), v4tcp()), ip: 0, transport: 0, anomaly: 'wlan-encrypted' },
  { name: '802.11 beacon (management) is not IP', link: 105, pkt: bytes([0x80, 0x00], new Array(40).fill(0)), ip: 0, transport: 0, anomaly: 'non-ip' },
  { name: '802.11 null data has no body', link: 105, pkt: bytes([0x48, 0x01], new Array(22).fill(0)), ip: 0, transport: 0, anomaly: 'non-ip' },
  { name: '802.11 QoS +HTC data', link: 105, pkt: bytes([0x88, 0x81, 0, 0], new Array(20).fill(0), [0, 0], [0, 0, 0, 0], [0xaa, 0xaa, 0x03, 0, 0, 0], u16(0x0800), v4tcp()), ip: 4, transport: 6, payload: 'hello, world' },
  { name: 'radiotap length past the packet', link: 127, pkt: bytes([0, 0, 0xff, 0x00, 0, 0, 0, 0]), ip: 0, transport: 0, anomaly: 'truncated-link-header' },
  { name: 'PPI naming a link type it cannot hold', link: 192, pkt: bytes([0, 0, 8, 0, 192, 0, 0, 0], v4tcp()), ip: 0, transport: 0, anomaly: 'unsupported-link-type' },
  { name: 'PPI over Ethernet', link: 192, pkt: bytes([0, 0, 8, 0, 1, 0, 0, 0], ether(0x0800, v4tcp())), ip: 4, transport: 6, payload: 'hello, world' },
  { name: 'NFLOG with big-endian TLVs (captured on a big-endian host)', link: 239, pkt: bytes([2, 0, 0, 1], u16(8), u16(1), [0x08, 0x00, 0x03, 0x00], u16(4 + v4tcp().length), u16(9), v4tcp()), ip: 4, transport: 6, payload: 'hello, world' },
  { name: 'NFLOG without a payload TLV', link: 239, pkt: bytes([2, 0, 0, 1], [8, 0, 1, 0], [0x08, 0x00, 0x03, 0x00]), ip: 0, transport: 0, anomaly: 'non-ip' },
  { name: 'IPoIB cut inside its pseudo-header', link: 242, pkt: new Uint8Array(30), ip: 0, transport: 0, anomaly: 'truncated-link-header' },
  { name: 'MPLS stack without a bottom', link: 1, pkt: ether(0x8847, bytes([0, 0x10, 0x00, 0x40], [0, 0x20, 0x00, 0x40])), ip: 0, transport: 0, anomaly: 'truncated-link-header' },
  { name: 'MPLS Ethernet pseudowire without a control word', link: 1, pkt: ether(0x8847, bytes([0, 0x10, 0x01, 0x40], ether(0x0800, v4tcp()))), ip: 4, transport: 6, payload: 'hello, world' },
  { name: 'GTP-U echo request stays UDP', link: 101, pkt: ipv4({ proto: 17 }, udp(2152, 2152, bytes([0x32, 0x01], u16(4), u32(0), [0, 1, 0, 0]))), ip: 4, transport: 17 },
  { name: 'GTP-U extension header running off the end', link: 101, pkt: ipv4({ proto: 17 }, udp(2152, 2152, bytes([0x34, 0xff], u16(8), u32(1), [0, 0, 0, 0x85], [9, 0, 0, 0]))), ip: 4, transport: 17 },
  { name: 'Geneve / Ethernet / IPv6', link: 101, pkt: ipv4({ proto: 17 }, udp(1234, 6081, bytes([0, 0], u16(0x6558), [0, 0, 1, 0], ether(0x86dd, v6tcp())))), ip: 6, transport: 6, tunnel: 1, payload: 'hello, world' },
  { name: 'Teredo bubble (no IPv6 packet) stays UDP', link: 101, pkt: ipv4({ proto: 17 }, udp(3544, 50000, bytes([0, 0, 1, 2, 3, 4, 5, 6]))), ip: 4, transport: 17 },
  { name: 'ERSPAN II cut inside its header', link: 101, pkt: ipv4({ proto: 47 }, bytes(u16(0x1000), u16(0x88be), u32(1), [0x10, 0])), ip: 4, transport: 0, tunnel: 1, anomaly: 'truncated-link-header' },
  { name: 'PFLOG header length past the packet', link: 117, pkt: bytes([200, 2, 0, 0]), ip: 0, transport: 0, anomaly: 'truncated-link-header' },
  { name: 'ARCNET fragment after the first is not decoded', link: 7, pkt: bytes([1, 2, 212, 3, 0, 1], v4tcp()), ip: 0, transport: 0, anomaly: 'non-ip' },
  { name: 'Juniper header without its magic', link: 178, pkt: bytes([0x4d, 0x47, 0x44, 0], ether(0x0800, v4tcp())), ip: 0, transport: 0, anomaly: 'non-ip' },
  { name: 'Juniper no-L2: IP after the protocol word', link: 178, pkt: bytes([0x4d, 0x47, 0x43, 0x02], [2, 0, 0, 0], v4tcp()), ip: 4, transport: 6, payload: 'hello, world' },
  { name: 'TCP data offset below 5', link: 101, pkt: ipv4({}, tcp({ dataOffset: 16 }, HELLO)), ip: 4, transport: 0, anomaly: 'tcp-bad-data-offset' },
  { name: 'TCP data offset past the IP payload', link: 101, pkt: ipv4({}, tcp({ dataOffset: 60 })), ip: 4, transport: 0, anomaly: 'tcp-bad-data-offset' },
  { name: 'TCP header cut short', link: 101, pkt: ipv4({}, tcp({}).subarray(0, 12)), ip: 4, transport: 0, anomaly: 'tcp-truncated-header' },
];

describe('decoder table', () => {
  for (const r of rows) {
    it(r.name, () => {
      const { d, an, payload } = decode(r.link, r.pkt);
      expect(d.ipVersion).toBe(r.ip);
      expect(d.transport).toBe(r.transport);
      if (r.payload !== undefined) expect(payload).toBe(r.payload);
      expect(d.vlan).toBe(r.vlan ?? -1);
      expect(d.vlanInner).toBe(r.vlanInner ?? -1);
      expect(d.tunnelDepth).toBe(r.tunnel ?? 0);
      if (r.anomaly) expect(an).toHaveProperty(r.anomaly, 1);
      else expect(an).toEqual({});
      if (r.transport === Transport.TCP) {
        expect([d.tcp.srcPort, d.tcp.dstPort, d.tcp.seq, d.tcp.ack, d.tcp.flags]).toEqual([40000, 80, 1000, 2000, 0x18]);
      }
    });
  }

  it('every anomaly name is unique and kebab-case', () => {
    expect(new Set(DECODE_ANOMALY_NAMES).size).toBe(DECODE_ANOMALY_NAMES.length);
    for (const n of DECODE_ANOMALY_NAMES) expect(n).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
  });
});

describe('addresses', () => {
  it('copies IPv4 and IPv6 addresses', () => {
    const { d } = decode(101, ipv4({ src: [192, 168, 1, 2], dst: [8, 8, 4, 4] }, seg()));
    expect(Array.from(d.src.subarray(0, 4))).toEqual([192, 168, 1, 2]);
    expect(Array.from(d.dst.subarray(0, 4))).toEqual([8, 8, 4, 4]);
    const { d: d6 } = decode(229, v6tcp());
    expect(formatIPv6(d6.src)).toBe('2001:db8::1');
  });
  it('formats IPv6 as RFC 5952 says', () => {
    const f = (hex: string) => formatIPv6(Uint8Array.from(Buffer.from(hex, 'hex')));
    expect(f('20010db8000000000000000000000001')).toBe('2001:db8::1');
    expect(f('20010db8000000010000000000000001')).toBe('2001:db8:0:1::1'); // longest run wins
    expect(f('20010db8000000000001000000000001')).toBe('2001:db8::1:0:0:1'); // first of equal runs
    expect(f('20010db8000100010001000100010001')).toBe('2001:db8:1:1:1:1:1:1');
    expect(f('20010db8000000010001000100010001')).toBe('2001:db8:0:1:1:1:1:1'); // one zero group stays
    expect(f('00000000000000000000000000000000')).toBe('::');
    expect(f('00000000000000000000ffff0a000001')).toBe('::ffff:a00:1');
    expect(f('fe800000000000000000000000000000')).toBe('fe80::');
  });
});

describe('lengths', () => {
  it('snaplen-truncated payload: captured < declared, counted', () => {
    const full = ether(0x0800, v4tcp(text('0123456789')));
    const { d, an } = decode(1, full.subarray(0, full.length - 4));
    expect(d.transport).toBe(Transport.TCP);
    expect(d.payloadLength).toBe(10);
    expect(d.payloadCaptured).toBe(6);
    expect(an).toEqual({ 'ip-payload-truncated': 1 });
  });
  it('IPv6 jumbogram payload length comes from the hop-by-hop option', () => {
    const payload = new Uint8Array(70000).fill(0x41);
    const hbh = ext6(6, [0xc2, 4, ...u32(8 + 20 + 70000)]);
    const pkt = ipv6(0, bytes(hbh, seg(payload)), { payloadLength: 0 });
    const { d, an } = decode(229, pkt);
    expect(an).toEqual({});
    expect(d.transport).toBe(Transport.TCP);
    expect(d.payloadLength).toBe(70000);
  });
  it('a jumbo option with a non-zero payload length is malformed', () => {
    const hbh = ext6(6, [0xc2, 4, ...u32(70000)]);
    const { an } = decode(229, ipv6(0, bytes(hbh, seg())));
    expect(an).toEqual({ 'ipv6-bad-jumbogram': 1 });
  });
  it('verifies IPv4 header checksums when asked', () => {
    expect(decode(101, ipv4({}, seg()), { verifyChecksums: true }).d.ipChecksumOk).toBe(1);
    const bad = decode(101, ipv4({ badChecksum: true }, seg()), { verifyChecksums: true });
    expect(bad.d.ipChecksumOk).toBe(0);
    expect(bad.an).toEqual({ 'ipv4-bad-checksum': 1 });
    expect(bad.d.transport).toBe(Transport.TCP); // still decoded
    expect(decode(101, ipv4({ badChecksum: true }, seg())).d.ipChecksumOk).toBe(-1);
  });
});

describe('TCP options', () => {
  it('reads MSS, window scale, SACK-permitted and timestamps', () => {
    const opts = [2, 4, ...u16(1460), 1, 3, 3, 7, 4, 2, 8, 10, ...u32(111), ...u32(222)];
    const { d } = decode(101, ipv4({}, tcp({ flags: 0x02, options: opts })));
    const t = d.tcp;
    expect([t.mss, t.windowScale, t.sackPermitted, t.hasTimestamps, t.tsVal, t.tsEcr, t.sackCount]).toEqual([1460, 7, true, true, 111, 222, 0]);
    expect(t.has(0x02)).toBe(true);
  });
  it('reads SACK blocks', () => {
    const opts = [1, 1, 5, 18, ...u32(100), ...u32(200), ...u32(0xfffffff0), ...u32(10)];
    const { d } = decode(101, ipv4({}, tcp({ options: opts })));
    expect(d.tcp.sackCount).toBe(2);
    expect(Array.from(d.tcp.sack.subarray(0, 4))).toEqual([100, 200, 0xfffffff0, 10]);
  });
  it('a bad option length stops parsing and is counted, keeping what came before', () => {
    const dec = new PacketDecoder();
    const { d } = decode(101, ipv4({}, tcp({ options: [2, 4, ...u16(536), 8, 40, 0, 0] })), {}, dec);
    expect(d.tcp.mss).toBe(536);
    expect(d.tcp.hasTimestamps).toBe(false);
    expect(dec.anomalies.toObject()).toEqual({ 'tcp-bad-option': 1 });
  });
  it('options are parsed once per packet and reset for the next', () => {
    const dec = new PacketDecoder();
    decode(101, ipv4({}, tcp({ options: [2, 4, ...u16(1400)] })), {}, dec);
    expect(dec.out.tcp.mss).toBe(1400);
    decode(101, ipv4({}, tcp({})), {}, dec);
    expect(dec.out.tcp.mss).toBe(-1);
  });
  it('NS flag and unknown options', () => {
    const { d } = decode(101, ipv4({}, tcp({ flags: 0x110, options: [30, 4, 0, 0] })));
    expect(d.tcp.flags).toBe(0x110);
    expect(d.tcp.otherOptions).toBe(1);
  });
});

describe('IP fragment reassembly', () => {
  const payload = new Uint8Array(200).map((_, i) => 65 + (i % 26));
  const whole = seg(payload); // 220 bytes of TCP
  const frag = (off: number, len: number, more: boolean, id = 9, data?: Uint8Array) =>
    ipv4({ id, mf: more, fragOffset: off }, data ?? whole.subarray(off, off + len));

  it('reassembles IPv4 fragments in any order', () => {
    for (const order of [
      [0, 1, 2],
      [2, 0, 1],
      [1, 2, 0],
    ]) {
      const parts = [frag(0, 80, true), frag(80, 80, true), frag(160, 60, false)];
      const dec = new PacketDecoder();
      const results = order.map((i) => {
        const d = dec.decodeBytes(101, parts[i], 0, parts[i].length, 0);
        return { held: d.fragmentHeld, transport: d.transport, re: d.reassembled };
      });
      expect(results.slice(0, 2).every((r) => r.held)).toBe(true);
      expect(results[2]).toEqual({ held: false, transport: Transport.TCP, re: true });
      expect(Buffer.from(dec.out.payload())).toEqual(Buffer.from(payload));
      expect(dec.defrag!.held).toBe(0);
      expect(dec.defrag!.heldBytes).toBe(0);
    }
  });

  for (const [policy, winner] of [
    ['first', 'A'],
    ['last', 'Z'],
  ] as const) {
    it(`overlap policy ${policy}: conflicting bytes counted, ${winner} kept`, () => {
      const dec = new PacketDecoder({ defrag: { overlap: policy } });
      const first = frag(0, 80, true);
      const changed = whole.slice(40, 120);
      changed.fill(0x5a, 20, 40); // segment bytes 60..80 = payload bytes 40..60 become 'Z'
      const second = ipv4({ id: 9, mf: true, fragOffset: 40 }, changed);
      const last = frag(120, 100, false);
      for (const p of [first, second, last]) dec.decodeBytes(101, p, 0, p.length, 0);
      expect(dec.out.transport).toBe(Transport.TCP);
      const got = Buffer.from(dec.out.payload()).toString('latin1');
      const original = Buffer.from(payload).toString('latin1');
      expect(got.slice(40, 60)).toBe(winner === 'Z' ? 'Z'.repeat(20) : original.slice(40, 60));
      expect(got.slice(0, 40) + got.slice(60)).toBe(original.slice(0, 40) + original.slice(60));
      expect(dec.anomalies.toObject()).toEqual({ 'frag-overlap': 1, 'frag-conflict': 1 });
    });
  }

  it('times out incomplete datagrams on capture time', () => {
    const dec = new PacketDecoder({ defrag: { timeoutSec: 30 } });
    const a = frag(0, 80, true, 1);
    dec.decodeBytes(101, a, 0, a.length, 100);
    const b = frag(0, 80, true, 2);
    dec.decodeBytes(101, b, 0, b.length, 140);
    expect(dec.anomalies.toObject()).toEqual({ 'frag-timeout': 1 });
    expect(dec.defrag!.held).toBe(1);
  });

  it('drops the oldest datagram past the limits', () => {
    const dec = new PacketDecoder({ defrag: { maxDatagrams: 3 } });
    for (let id = 1; id <= 5; id++) {
      const p = frag(0, 80, true, id);
      dec.decodeBytes(101, p, 0, p.length, 0);
    }
    expect(dec.defrag!.held).toBe(3);
    expect(dec.anomalies.toObject()).toEqual({ 'frag-limit': 2 });
    const small = new PacketDecoder({ defrag: { maxBytes: 100 } });
    const p = frag(0, 80, true, 1);
    small.decodeBytes(101, p, 0, p.length, 0);
    const q = frag(0, 80, true, 2);
    small.decodeBytes(101, q, 0, q.length, 0);
    expect(small.defrag!.heldBytes).toBeLessThanOrEqual(100);
  });

  it('refuses datagrams over 65,535 bytes', () => {
    const dec = new PacketDecoder();
    const p = ipv4({ id: 3, mf: true, fragOffset: 65528 }, new Uint8Array(16));
    dec.decodeBytes(101, p, 0, p.length, 0);
    expect(dec.anomalies.toObject()).toEqual({ 'frag-too-big': 1 });
  });

  it('reassembles IPv6 fragments', () => {
    const dec = new PacketDecoder();
    const a = ipv6(44, bytes(frag6(6, 0, true, 0xabc), whole.subarray(0, 104)));
    const b = ipv6(44, bytes(frag6(6, 104, false, 0xabc), whole.subarray(104)));
    expect(dec.decodeBytes(229, b, 0, b.length, 0).fragmentHeld).toBe(true);
    const d = dec.decodeBytes(229, a, 0, a.length, 0);
    expect(d.transport).toBe(Transport.TCP);
    expect(d.reassembled).toBe(true);
    expect(Buffer.from(d.payload())).toEqual(Buffer.from(payload));
    expect(formatIPv6(d.src)).toBe(formatIPv6(Uint8Array.from(V6A)));
  });

  it('leaves fragments alone when reassembly is off', () => {
    const dec = new PacketDecoder({ defrag: false });
    const p = frag(0, 80, true);
    expect(dec.decodeBytes(101, p, 0, p.length, 0).fragmentHeld).toBe(true);
  });

  it('an atomic IPv6 fragment is just a packet', () => {
    const { d } = decode(229, ipv6(44, bytes(frag6(6, 0, false, 5), seg())));
    expect(d.transport).toBe(Transport.TCP);
  });
});

describe('allocation', () => {
  it('decoding steady TCP traffic allocates nothing per packet', () => {
    const pkts = [ether(0x0800, v4tcp()), ether(0x86dd, v6tcp()), ether(0x8100, vlan(5, 0x0800, v4tcp()))];
    const dec = new PacketDecoder();
    let sink = 0;
    const { extraBytes } = heapGrowth((n) => {
      for (let i = 0; i < n; i++) {
        const p = pkts[i % 3];
        sink += dec.decodeBytes(1, p, 0, p.length, 1).payloadCaptured;
      }
    });
    expect(sink).toBeGreaterThan(0);
    // 900,000 more packets: even 8 bytes each would be 7 MB.
    expect(extraBytes).toBeLessThan(64 * 1024);
  });
});
