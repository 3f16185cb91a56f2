/**
 * Writes a TCP conversation — turns of [direction, bytes] — as a real capture file: handshake,
 * data in segments of at most `mss` bytes with correct sequence and acknowledgement numbers, one
 * packet per millisecond, and FINs from both sides. Lets service-level tests run protocols that
 * no public capture covers through the whole pipeline (reader, decoder, engine, plugins).
 */
import { writeFileSync } from 'node:fs';
import { PcapWriter } from '../../main/engine/formats/writers';
import { bytes, ether, ipv4, tcp } from './packet-builder';

export function writeConversationPcap(path: string, turns: [0 | 1, Uint8Array][], ports: [number, number], mss = 1400): void {
  const chunks: Uint8Array[] = [];
  const w = new PcapWriter((c) => chunks.push(c.slice()), { linkType: 1 });
  const addr = [[10, 0, 0, 1], [10, 0, 0, 2]];
  const seq = [1000, 5000];
  let t = 0;
  const send = (dir: 0 | 1, flags: number, payload = new Uint8Array(0)) => {
    const other = (1 - dir) as 0 | 1;
    const seg = tcp({ sport: ports[dir], dport: ports[other], seq: seq[dir] >>> 0, ack: flags === 0x02 ? 0 : seq[other] >>> 0, flags }, payload);
    w.packet(1_700_000_000, t++ * 1_000_000, ether(0x0800, ipv4({ src: addr[dir], dst: addr[other] }, seg)));
    seq[dir] += payload.length + (flags & 0x03 ? 1 : 0);
  };
  send(0, 0x02);
  send(1, 0x12);
  send(0, 0x10);
  for (const [dir, b] of turns) for (let i = 0; i < b.length; i += mss) send(dir, 0x18, b.slice(i, i + mss));
  send(0, 0x11);
  send(1, 0x11);
  send(0, 0x10);
  writeFileSync(path, bytes(...chunks));
}
