/**
 * Writes a TCP conversation — turns of [direction, bytes] — as a real capture file: handshake,
 * data in segments of at most `mss` bytes with correct sequence and acknowledgement numbers, one
 * packet per millisecond, and FINs from both sides. Lets service-level tests run protocols that
 * no public capture covers through the whole pipeline (reader, decoder, engine, plugins), and the
 * synthetic link-layer fixtures wrap the same conversation in every encapsulation (`frame`).
 */
import { writeFileSync } from 'node:fs';
import { PcapWriter } from '../../main/engine/formats/writers';
import { bytes, ether, ipv4, tcp } from './packet-builder';

export const CONV_ADDR = [
  [10, 0, 0, 1],
  [10, 0, 0, 2],
];

export interface ConversationFraming {
  linkType: number;
  /** Builds the captured frame of a TCP segment sent by `dir` (0 client, 1 server); `n` counts packets. */
  frame: (segment: Uint8Array, dir: 0 | 1, n: number) => Uint8Array;
}

/** Ethernet II carrying IPv4 between CONV_ADDR. */
export const ETHERNET_IPV4: ConversationFraming = {
  linkType: 1,
  frame: (seg, dir) => ether(0x0800, ipv4({ src: CONV_ADDR[dir], dst: CONV_ADDR[1 - dir] }, seg)),
};

/** The frames of the conversation, in order (see the file comment). */
export function conversationFrames(turns: [0 | 1, Uint8Array][], ports: [number, number], mss = 1400, framing: ConversationFraming = ETHERNET_IPV4): Uint8Array[] {
  const frames: Uint8Array[] = [];
  const seq = [1000, 5000];
  const send = (dir: 0 | 1, flags: number, payload = new Uint8Array(0)) => {
    const other = (1 - dir) as 0 | 1;
    const seg = tcp({ sport: ports[dir], dport: ports[other], seq: seq[dir] >>> 0, ack: flags === 0x02 ? 0 : seq[other] >>> 0, flags }, payload);
    frames.push(framing.frame(seg, dir, frames.length));
    seq[dir] += payload.length + (flags & 0x03 ? 1 : 0);
  };
  send(0, 0x02);
  send(1, 0x12);
  send(0, 0x10);
  for (const [dir, b] of turns) for (let i = 0; i < b.length; i += mss) send(dir, 0x18, b.slice(i, i + mss));
  send(0, 0x11);
  send(1, 0x11);
  send(0, 0x10);
  return frames;
}

/** Writes frames as a pcap file, one per millisecond from 1,700,000,000 s. */
export function writeFramesPcap(path: string, linkType: number, frames: Uint8Array[]): void {
  const chunks: Uint8Array[] = [];
  const w = new PcapWriter((c) => chunks.push(c.slice()), { linkType });
  frames.forEach((f, t) => w.packet(1_700_000_000, t * 1_000_000, f));
  writeFileSync(path, bytes(...chunks));
}

export function writeConversationPcap(path: string, turns: [0 | 1, Uint8Array][], ports: [number, number], mss = 1400, framing: ConversationFraming = ETHERNET_IPV4): void {
  writeFramesPcap(path, framing.linkType, conversationFrames(turns, ports, mss, framing));
}
