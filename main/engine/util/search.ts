/**
 * The index of the last of `count` ascending keys that is ≤ `x` (0 when none is): which piece of
 * a stream holds an offset, given the offsets where pieces start.
 */
export function lastAtOrBefore(count: number, keyAt: (i: number) => number, x: number): number {
  let lo = 0;
  let hi = count - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (keyAt(mid) <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
