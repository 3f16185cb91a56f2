/**
 * Community ID v1 (https://github.com/corelight/community-id-spec): a flow hash that Zeek,
 * Suricata and others compute the same way, so a Weft flow can be found in their logs. SHA-1 over
 * seed (2 bytes), the two addresses and ports ordered so that the smaller endpoint comes first,
 * the protocol and a zero pad byte; base64, prefixed "1:". ICMP's type/code pairing is not done
 * (Weft's flows are TCP); protocols without ports hash the addresses only.
 */
import { createHash } from 'node:crypto';

function before(a: Uint8Array, ap: number, b: Uint8Array, bp: number): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i];
  return ap <= bp;
}

/** `src`/`dst` are 4 (IPv4) or 16 (IPv6) address bytes; ports are ignored when null. */
export function communityId(src: Uint8Array, dst: Uint8Array, proto: number, srcPort: number | null, dstPort: number | null, seed = 0): string {
  if (src.length !== dst.length || (src.length !== 4 && src.length !== 16)) throw new Error('community id: both addresses must be IPv4 or both IPv6');
  let [a, ap, b, bp] = [src, srcPort ?? 0, dst, dstPort ?? 0];
  if (!before(a, ap, b, bp)) [a, ap, b, bp] = [b, bp, a, ap];
  const h = createHash('sha1');
  h.update(Uint8Array.of(seed >> 8, seed & 255));
  h.update(a);
  h.update(b);
  h.update(Uint8Array.of(proto, 0));
  if (srcPort !== null && dstPort !== null) h.update(Uint8Array.of(ap >> 8, ap & 255, bp >> 8, bp & 255));
  return `1:${h.digest('base64')}`;
}

/** Parses "1.2.3.4" / "[2001:db8::1]" / "2001:db8::1" into address bytes. */
export function addressBytes(host: string): Uint8Array {
  const h = host.replace(/^\[|\]$/g, '');
  if (!h.includes(':')) return Uint8Array.from(h.split('.').map(Number));
  const [head, tail] = h.split('::');
  const words = (s: string | undefined) => (s ? s.split(':').map((w) => parseInt(w, 16)) : []);
  const hw = words(head);
  const tw = tail === undefined ? [] : words(tail);
  const all = [...hw, ...new Array(8 - hw.length - tw.length).fill(0), ...tw];
  const out = new Uint8Array(16);
  all.forEach((w, i) => ((out[2 * i] = w >> 8), (out[2 * i + 1] = w & 255)));
  return out;
}
