/**
 * pcapng timestamps: a 64-bit count of units (high, low 32-bit words) at the interface's
 * resolution (if_tsresol: 10^-n, or 2^-n when the top bit is set; default 10^-6), plus the
 * interface's if_tsoffset in seconds.
 *
 * Nanosecond counts exceed 2^53, so the 64-bit value is never formed as a double. For decimal
 * resolutions up to 10^-9 we divide by long division in 16-bit digits (every intermediate stays
 * below 2^53). Other resolutions fall back to BigInt; they are rare and not on the hot path of
 * any real capture we know.
 */
export interface TsResolution {
  /** Units per second; exact for the fast path. */
  unitsPerSecond: number;
  /** 10^n when decimal with n ≤ 9, else 0 (use the BigInt path). */
  decimalDivisor: number;
  /** Nanoseconds per unit on the fast path (1e9 / decimalDivisor). */
  nsPerUnit: number;
  /** Exact units per second for the BigInt path. */
  bigUnits: bigint;
}

export function resolutionFromOption(tsresol: number | undefined): TsResolution {
  const v = tsresol ?? 6;
  const binary = (v & 0x80) !== 0;
  const exp = v & 0x7f;
  if (!binary && exp <= 9) {
    const d = 10 ** exp;
    return { unitsPerSecond: d, decimalDivisor: d, nsPerUnit: 1e9 / d, bigUnits: BigInt(d) };
  }
  const big = binary ? 1n << BigInt(exp) : 10n ** BigInt(exp);
  return { unitsPerSecond: Number(big), decimalDivisor: 0, nsPerUnit: 0, bigUnits: big };
}

/** Output of {@link splitTimestamp}; reused to avoid allocation. */
export interface SecNsec {
  sec: number;
  nsec: number;
}

export function splitTimestamp(high: number, low: number, r: TsResolution, offsetSec: number, out: SecNsec): void {
  const d = r.decimalDivisor;
  if (d !== 0) {
    if (high < 0x200000) {
      // The whole value is below 2^53: plain doubles are exact.
      const units = high * 4294967296 + low;
      const sec = Math.floor(units / d);
      out.sec = sec + offsetSec;
      out.nsec = (units - sec * d) * r.nsPerUnit;
      return;
    }
    // Long division of the four 16-bit digits by d (d ≤ 1e9, so r*65536 + digit < 2^53).
    let rem = 0;
    let q = 0;
    const digits0 = high >>> 16;
    const digits1 = high & 0xffff;
    const digits2 = low >>> 16;
    const digits3 = low & 0xffff;
    let cur = digits0;
    let qd = Math.floor(cur / d);
    rem = cur - qd * d;
    q = qd;
    cur = rem * 65536 + digits1;
    qd = Math.floor(cur / d);
    rem = cur - qd * d;
    q = q * 65536 + qd;
    cur = rem * 65536 + digits2;
    qd = Math.floor(cur / d);
    rem = cur - qd * d;
    q = q * 65536 + qd;
    cur = rem * 65536 + digits3;
    qd = Math.floor(cur / d);
    rem = cur - qd * d;
    q = q * 65536 + qd;
    out.sec = q + offsetSec;
    out.nsec = rem * r.nsPerUnit;
    return;
  }
  const units = (BigInt(high) << 32n) | BigInt(low);
  const sec = units / r.bigUnits;
  const rem = units - sec * r.bigUnits;
  out.sec = Number(sec) + offsetSec;
  out.nsec = Number((rem * 1_000_000_000n) / r.bigUnits);
}
