/**
 * Thousands of mutated real captures (fixed seed): no exception but CaptureFormatError, no hang,
 * every packet inside its buffer. `npm run test:fuzz` runs many more (FUZZ_ITERATIONS, FUZZ_SEED).
 */
import { describe, expect, it } from 'vitest';
import { captureFiles, readFixture, REAL } from '../helpers/fixtures';
import { mutate, readAndDecode, rng } from '../helpers/fuzz';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 3000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261122);

describe('mutational fuzzing', () => {
  const corpus = captureFiles(REAL)
    .map((f) => ({ f, bytes: readFixture(REAL, f) }))
    .filter((c) => c.bytes.length < 64 * 1024);

  it(`${ITERATIONS} mutated captures read without a crash (seed ${SEED})`, { timeout: 600_000 }, () => {
    const r = rng(SEED);
    let errors = 0;
    let packets = 0;
    let slowest = 0;
    let peakRss = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const c = corpus[Math.floor(r() * corpus.length)];
      const bytes = mutate(c.bytes, r);
      let out;
      const t0 = performance.now();
      try {
        out = readAndDecode(bytes, r);
      } catch (e) {
        throw new Error(`iteration ${i} (seed ${SEED}, from ${c.f}): ${(e as Error).stack}`);
      }
      slowest = Math.max(slowest, performance.now() - t0);
      if (i % 1000 === 0) peakRss = Math.max(peakRss, process.memoryUsage.rss());
      if (out.error) {
        errors++;
        expect(out.error.offset).toBeLessThanOrEqual(bytes.length);
      }
      packets += out.packets;
    }
    console.log(`fuzz captures: ${ITERATIONS} inputs, ${errors} damaged files reported with their offset, ${packets} packets decoded, 0 crashes, slowest input ${slowest.toFixed(1)} ms, peak RSS ${Math.round(peakRss / 1048576)} MB`);
    // The mutations must actually hurt: some files damaged, most packets still read.
    expect(errors).toBeGreaterThan(ITERATIONS / 10);
    expect(packets).toBeGreaterThan(ITERATIONS * 5);
  });
});
