/**
 * Bytes per second over the last second, from samples taken at every delta tick (100 ms): it
 * follows a load as it goes, and falls to 0 when nothing comes (a figure computed only when a
 * delta was due froze at its last value when idle, and one window that began before the load
 * under-reported while loading).
 */
export class Rate {
  private readonly times: number[] = [];
  private readonly totals: number[] = [];

  constructor(private readonly windowMs = 1000) {}

  /** Records the running total at `now` and returns the rate over the window. */
  sample(now: number, total: number): number {
    this.times.push(now);
    this.totals.push(total);
    while (this.times.length > 2 && now - this.times[1] >= this.windowMs) {
      this.times.shift();
      this.totals.shift();
    }
    const dt = now - this.times[0];
    return dt > 0 ? ((total - this.totals[0]) * 1000) / dt : 0;
  }
}
