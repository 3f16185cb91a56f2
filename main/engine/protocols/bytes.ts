/** Byte helpers shared by the protocol parsers. */

/**
 * Copies `src[i, i+n)` to `buf` at `len`, first growing `buf` (at least doubling) when it is too
 * small; returns the buffer to keep, which is `buf` itself unless it had to grow.
 */
export function appendBytes(buf: Uint8Array<ArrayBuffer>, len: number, src: Uint8Array, i: number, n: number): Uint8Array<ArrayBuffer> {
  if (len + n > buf.length) {
    const bigger = new Uint8Array(Math.max(buf.length * 2, len + n));
    bigger.set(buf.subarray(0, len));
    buf = bigger;
  }
  buf.set(src.subarray(i, i + n), len);
  return buf;
}
