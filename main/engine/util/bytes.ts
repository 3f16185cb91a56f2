/** Big-endian reads from a Uint8Array (network byte order); callers bound-check first. */
export function u16be(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}
export function u32be(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}
export function u32le(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}
/** 32-bit read in the given byte order (capture files come in both). */
export function u32in(le: boolean, b: Uint8Array, o: number): number {
  return le ? u32le(b, o) : u32be(b, o);
}
/** 16-bit read in the given byte order. */
export function u16in(le: boolean, b: Uint8Array, o: number): number {
  return le ? b[o] | (b[o + 1] << 8) : (b[o] << 8) | b[o + 1];
}

/** Concatenates byte arrays into a new one. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * A copy of `b[start, end)` that owns its memory. Not `b.slice()`: on a Node Buffer (live capture
 * hands out one reused Buffer; stdin yields Buffers) slice returns a view, not a copy.
 */
export function copyBytes(b: Uint8Array, start = 0, end = b.length): Uint8Array<ArrayBuffer> {
  return new Uint8Array(b.subarray(start, end));
}

/** `a`, or a copy of it doubled (as often as needed) to hold at least `n` elements. */
export function grownTo<T extends Float64Array | Uint8Array | Uint32Array | Int32Array>(a: T, n: number): T {
  if (n <= a.length) return a;
  let size = Math.max(1, a.length) * 2;
  while (size < n) size *= 2;
  const b = new (a.constructor as new (n: number) => T)(size);
  b.set(a);
  return b;
}
