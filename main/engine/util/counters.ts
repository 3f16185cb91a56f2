/**
 * Named counters backed by one typed array: incrementing allocates nothing, which matters on the
 * per-packet path. `toObject()` (allocates) lists the non-zero ones for reports.
 */
export class NamedCounters<N extends string> {
  readonly values: Float64Array;
  constructor(readonly names: readonly N[]) {
    this.values = new Float64Array(names.length);
  }
  inc(index: number, by = 1): void {
    this.values[index] += by;
  }
  get(name: N): number {
    return this.values[this.names.indexOf(name)];
  }
  total(): number {
    let s = 0;
    for (let i = 0; i < this.values.length; i++) s += this.values[i];
    return s;
  }
  toObject(): Partial<Record<N, number>> {
    const o: Partial<Record<N, number>> = {};
    for (let i = 0; i < this.names.length; i++) if (this.values[i] !== 0) o[this.names[i]] = this.values[i];
    return o;
  }
  addFrom(other: NamedCounters<N>): void {
    for (let i = 0; i < this.values.length; i++) this.values[i] += other.values[i];
  }
}

/** Builds {name → index} for a names list, so hot code uses numbers and reports use names. */
export function indexOf<const N extends string>(names: readonly N[]): { [K in N]: number } {
  const o = {} as { [K in N]: number };
  names.forEach((n, i) => (o[n as N] = i));
  return o;
}
