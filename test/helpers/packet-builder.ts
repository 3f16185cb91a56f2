/**
 * Builds packets byte by byte for decoder tests: each function returns a fresh Uint8Array, so
 * tests read as layer stacks: ether(0x0800, ipv4({proto: 6}, tcp({...}, payload))).
 */
import { concatBytes } from '../../main/engine/util/bytes';

export function bytes(...parts: (Uint8Array | number[])[]): Uint8Array {
  return concatBytes(parts.map((p) => (p instanceof Uint8Array ? p : Uint8Array.from(p))));
}
export const u16 = (n: number) => [(n >>> 8) & 0xff, n & 0xff];
export const u32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
export const text = (s: string) => new TextEncoder().encode(s);

export function ether(type: number, payload: Uint8Array, padTo = 0, fcs = false): Uint8Array {
  let frame = bytes([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], u16(type), payload);
  if (frame.length < padTo) frame = bytes(frame, new Array(padTo - frame.length).fill(0));
  if (fcs) frame = bytes(frame, [0xde, 0xad, 0xbe, 0xef]);
  return frame;
}
export function vlan(id: number, type: number, payload: Uint8Array): Uint8Array {
  return bytes(u16(id), u16(type), payload);
}

export interface Ip4 {
  src?: number[];
  dst?: number[];
  proto?: number;
  id?: number;
  ttl?: number;
  options?: number[];
  mf?: boolean;
  fragOffset?: number; // bytes, multiple of 8
  totalLength?: number; // override
  badChecksum?: boolean;
}
export function ipv4(o: Ip4, payload: Uint8Array): Uint8Array {
  const opts = o.options ?? [];
  const ihl = 20 + opts.length;
  const total = o.totalLength ?? ihl + payload.length;
  const ff = (o.mf ? 0x2000 : 0) | ((o.fragOffset ?? 0) / 8);
  const h = bytes([0x40 | (ihl / 4), 0], u16(total), u16(o.id ?? 1), u16(ff), [o.ttl ?? 64, o.proto ?? 6, 0, 0], o.src ?? [10, 0, 0, 1], o.dst ?? [10, 0, 0, 2], opts);
  let sum = 0;
  for (let i = 0; i < h.length; i += 2) sum += (h[i] << 8) | h[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const ck = ~sum & 0xffff ^ (o.badChecksum ? 1 : 0);
  h[10] = ck >>> 8;
  h[11] = ck & 0xff;
  return bytes(h, payload);
}

export const V6A = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
export const V6B = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
export function ipv6(next: number, payload: Uint8Array, o: { src?: number[]; dst?: number[]; payloadLength?: number } = {}): Uint8Array {
  return bytes([0x60, 0, 0, 0], u16(o.payloadLength ?? payload.length), [next, 64], o.src ?? V6A, o.dst ?? V6B, payload);
}
/** A generic IPv6 extension header (hop-by-hop, routing, destination options) padded to 8n. */
export function ext6(next: number, body: number[]): Uint8Array {
  const len = 2 + body.length;
  const padded = Math.ceil(len / 8) * 8;
  return bytes([next, padded / 8 - 1], body, new Array(padded - len).fill(0));
}
export function frag6(next: number, offset: number, more: boolean, id: number): Uint8Array {
  return bytes([next, 0], u16(offset | (more ? 1 : 0)), u32(id));
}

export interface Tcp {
  sport?: number;
  dport?: number;
  seq?: number;
  ack?: number;
  flags?: number;
  window?: number;
  urgent?: number;
  options?: number[];
  dataOffset?: number; // override, bytes
}
export function tcp(o: Tcp, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const opts = o.options ?? [];
  const padded = bytes(opts, new Array((4 - (opts.length % 4)) % 4).fill(0));
  const doff = o.dataOffset ?? 20 + padded.length;
  const flags = o.flags ?? 0x18;
  return bytes(u16(o.sport ?? 40000), u16(o.dport ?? 80), u32(o.seq ?? 1000), u32(o.ack ?? 0), [((doff / 4) << 4) | ((flags >> 8) & 1), flags & 0xff], u16(o.window ?? 65535), [0, 0], u16(o.urgent ?? 0), padded, payload);
}
export function udp(sport: number, dport: number, payload: Uint8Array, length?: number): Uint8Array {
  return bytes(u16(sport), u16(dport), u16(length ?? 8 + payload.length), [0, 0], payload);
}
