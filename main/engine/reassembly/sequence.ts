/**
 * TCP sequence numbers: 32-bit serial arithmetic (RFC 1982), the ONLY place in the engine that
 * compares or moves sequence numbers (STYLE.md §3).
 *
 * Inside the engine sequence numbers are kept as SIGNED 32-bit integers (the wire value `| 0`):
 * V8 keeps those unboxed, whereas unsigned values ≥ 2^31 become heap numbers that are allocated
 * whenever they are passed to a function that is not inlined. `s >>> 0` gives the wire value back
 * (what reports and users see). The difference b − a is taken modulo 2^32 and read as a signed
 * 32-bit value, so it is right across the wrap as long as the two are less than 2^31 apart:
 *
 *   seqDiff(0xFFFFFFFF, 0) === 1        seqDiff(0, 0xFFFFFFFF) === -1
 *
 * gopacket v2's Sequence.Difference adds 0xFFFFFFFF instead of 2^32 at the wrap and is one off
 * there; we do not port that bug (test/unit/sequence.test.ts pins it).
 */

/** b − a in serial arithmetic: positive if b is after a. */
export function seqDiff(a: number, b: number): number {
  return (b - a) | 0;
}

/** s + n modulo 2^32, as a signed 32-bit value (n may be negative). */
export function seqAdd(s: number, n: number): number {
  return (s + n) | 0;
}

/** The engine's form of a wire sequence number (any 32-bit value, signed or not). */
export function seqOf(wire: number): number {
  return wire | 0;
}

/** The wire (unsigned) form of an engine sequence number. */
export function seqWire(s: number): number {
  return s >>> 0;
}

/** True if a is strictly before b. */
export function seqBefore(a: number, b: number): boolean {
  return ((b - a) | 0) > 0;
}

/** True if a is at or before b. */
export function seqAtOrBefore(a: number, b: number): boolean {
  return ((b - a) | 0) >= 0;
}

/** The later of a and b. */
export function seqMax(a: number, b: number): number {
  return ((b - a) | 0) > 0 ? b : a;
}

/** The earlier of a and b. */
export function seqMin(a: number, b: number): number {
  return ((b - a) | 0) < 0 ? b : a;
}
