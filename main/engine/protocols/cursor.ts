/**
 * A little-endian reader over one binary message for the protocol parsers. It never throws:
 * reading past the end returns zeros / short values and sets `bad`, so a truncated or damaged
 * message decodes as far as it goes and the caller decides what that means.
 */
const utf8 = new TextDecoder('utf-8');

export class Cursor {
  /** A read went past the end. */
  bad = false;

  constructor(
    readonly b: Uint8Array,
    public p = 0,
  ) {}

  get left(): number {
    return this.b.length - this.p;
  }

  u8(): number {
    if (this.p >= this.b.length) {
      this.bad = true;
      return 0;
    }
    return this.b[this.p++];
  }

  /** Unsigned little-endian integer of `n` bytes (exact up to 2^53). */
  uint(n: number): number {
    if (this.p + n > this.b.length) {
      this.bad = true;
      this.p = this.b.length;
      return 0;
    }
    let v = 0;
    for (let k = n - 1; k >= 0; k--) v = v * 256 + this.b[this.p + k];
    this.p += n;
    return v;
  }

  /** Signed little-endian integer of `n` bytes. */
  int(n: number): number {
    const v = this.uint(n);
    const top = 2 ** (8 * n);
    return v >= top / 2 ? v - top : v;
  }

  /** Signed 64-bit little-endian integer, as decimal text (exact, unlike a number past 2^53). */
  int64Text(): string {
    const lo = BigInt(this.uint(4));
    return String(BigInt.asIntN(64, lo | (BigInt(this.uint(4)) << 32n)));
  }

  f32(): number {
    const b = this.bytes(4);
    return b.length === 4 ? new DataView(b.buffer, b.byteOffset, 4).getFloat32(0, true) : 0;
  }

  f64(): number {
    const b = this.bytes(8);
    return b.length === 8 ? new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, true) : 0;
  }

  /** A view of the next `n` bytes (fewer, and `bad`, at the end). */
  bytes(n: number): Uint8Array {
    const end = Math.min(this.b.length, this.p + n);
    if (this.p + n > this.b.length) this.bad = true;
    const v = this.b.subarray(this.p, end);
    this.p = end;
    return v;
  }

  text(n: number): string {
    return utf8.decode(this.bytes(n));
  }

  /** Text up to a NUL (consumed) or to the end. */
  cstring(): string {
    const z = this.b.indexOf(0, this.p);
    const end = z < 0 ? this.b.length : z;
    const s = utf8.decode(this.b.subarray(this.p, end));
    this.p = z < 0 ? end : z + 1;
    return s;
  }

  /** The rest as text. */
  rest(): string {
    return this.text(this.left);
  }
}
