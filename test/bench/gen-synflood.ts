/**
 * A SYN flood (or a port scan seen from the victim's side): `n` SYNs, none answered, each to a
 * port not used before, from one scanner to a row of hosts — every SYN is a connection of its
 * own that never carries a byte. 1,000,000 SYNs make a 70 MB Ethernet pcap spanning `seconds` of
 * capture time (default 10 s: far below the idle timeout, so only the connection table's limit
 * keeps them from all being open at once).
 *
 *   node out/cli/bench.cjs --gen-synflood F.pcap [--conns N]
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { PcapWriter } from '../../main/engine/formats/writers';

const FRAME = 54; // Ethernet 14 + IPv4 20 + TCP 20

export function writeSynFlood(path: string, n: number, seconds = 10): void {
  const fd = openSync(path, 'w');
  let buf = new Uint8Array(1 << 22);
  let used = 0;
  const flush = () => {
    writeSync(fd, buf, 0, used);
    used = 0;
  };
  const w = new PcapWriter(
    (chunk) => {
      if (used + chunk.length > buf.length) flush();
      if (chunk.length > buf.length) buf = new Uint8Array(chunk.length);
      buf.set(chunk, used);
      used += chunk.length;
    },
    { linkType: 1 },
  );
  const f = new Uint8Array(FRAME);
  const v = new DataView(f.buffer);
  f.set([0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00], 0); // Ethernet, IPv4
  for (let i = 0; i < n; i++) {
    // IPv4: 203.0.113.7 → 192.0.2.(1 + i / 64512), TTL 64, TCP
    v.setUint32(14, 0x45000028);
    v.setUint32(18, ((i & 0xffff) << 16) | 0x4000);
    v.setUint32(22, 0x40060000);
    v.setUint32(26, 0xcb007107);
    v.setUint32(30, 0xc0000200 + 1 + Math.floor(i / 64512));
    let sum = 0;
    for (let o = 14; o < 34; o += 2) if (o !== 24) sum += v.getUint16(o);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    v.setUint16(24, ~sum & 0xffff);
    // TCP: source port from 40000 up, destination 1024 + (i mod 64512), SYN, window 1024
    v.setUint16(34, 40000 + (i % 25000));
    v.setUint16(36, 1024 + (i % 64512));
    v.setUint32(38, Math.imul(i + 1, 2654435761) >>> 0);
    v.setUint32(42, 0);
    v.setUint16(46, 0x5002);
    v.setUint16(48, 1024);
    v.setUint16(50, 0); // checksum not computed (Weft, like tshark by default, does not check it)
    v.setUint16(52, 0);
    const t = (i / n) * seconds;
    const sec = Math.floor(t);
    w.packet(1_700_000_000 + sec, Math.floor((t - sec) * 1e9), f);
  }
  flush();
  closeSync(fd);
}
