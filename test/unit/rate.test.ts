/** The throughput figure: the rate over the last second, following a load and falling to 0 when idle. */
import { describe, expect, it } from 'vitest';
import { Rate } from '../../main/service/session/rate';

describe('rate over the last second', () => {
  it('follows a steady load from its first tick, and falls to 0 a second after it stops', () => {
    const r = new Rate();
    let total = 0;
    const seen: number[] = [];
    // idle for 5 s before the load: the first window must not include that time
    for (let t = 0; t <= 5000; t += 100) seen.push(r.sample(t, total));
    expect(seen.every((x) => x === 0)).toBe(true);
    // 10 MB/s for 3 s
    const during: number[] = [];
    for (let t = 5100; t <= 8000; t += 100) during.push(r.sample(t, (total += 1_000_000)));
    // a second into the load it reads the load's rate exactly (idle time before never dilutes it)
    for (const x of during.slice(9)) expect(x).toBeCloseTo(10_000_000, -3);
    expect(during[0]).toBeCloseTo(1_000_000, -3); // 100 ms of it in the last second
    // stops: within a second and a tick it reads 0, and stays there
    const after: number[] = [];
    for (let t = 8100; t <= 10000; t += 100) after.push(r.sample(t, total));
    expect(after.slice(11).every((x) => x === 0)).toBe(true);
    expect(after[0]).toBeGreaterThan(0);
  });
});
