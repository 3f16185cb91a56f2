/**
 * The fuzz campaign over every protocol parser, as `weft messages` runs them (issue 14): seeds
 * from test/fixtures/fuzz/ (directions of the real captures) mutated by the capture fuzzer's
 * mutations, pushed in random pieces with random gaps, each message finished by the service layer
 * (bodies and documents decoded, fields made JSON-safe) and written as JSON. Anything thrown is a
 * crash; an input taking over two seconds is a hang. `npm run test:fuzz` runs it with
 * FUZZ_PARSER_ITERATIONS per plugin beside the capture fuzzer (test/integration/fuzz.test.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PLUGINS } from '../../main/engine/protocols';
import { finishFields, jsonSafe, PARSER_HOST } from '../../main/service/pipeline/message-content';
import { mutate, rng } from '../helpers/fuzz';

const ITERATIONS = Number(process.env.FUZZ_PARSER_ITERATIONS ?? 400);
const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const SEEDS = join(__dirname, '..', 'fixtures', 'fuzz');

describe('fuzz campaign: the protocol parsers', () => {
  for (const plugin of PLUGINS) {
    it(`${plugin.name}: ${ITERATIONS} mutated streams parsed and finished without a crash or a hang (seed ${SEED})`, { timeout: 3_600_000 }, () => {
      // each seed goes to the parser of its own direction (a response fed as a request says little)
      const corpus = readdirSync(join(SEEDS, plugin.name)).map((f) => ({ dir: (f.includes('s2c') ? 1 : 0) as 0 | 1, bytes: new Uint8Array(readFileSync(join(SEEDS, plugin.name, f))) }));
      expect(corpus.length).toBeGreaterThan(1);
      const r = rng(SEED ^ plugin.name.length);
      let messages = 0;
      let slowest = 0;
      let peak = 0;
      for (let i = 0; i < ITERATIONS; i++) {
        const seed = corpus[Math.floor(r() * corpus.length)];
        const data = mutate(seed.bytes, r);
        const t0 = performance.now();
        try {
          const ps = plugin.parsers(PARSER_HOST);
          const dir = seed.dir;
          const out = [];
          for (let pos = 0; pos < data.length; ) {
            const n = 1 + Math.floor(r() * r() * 2000);
            if (r() < 0.05) ps[dir].gap(Math.floor(r() * 500));
            out.push(...ps[dir].push(data.subarray(pos, pos + n), pos));
            pos += n;
          }
          out.push(...ps[dir].end());
          for (const m of out) JSON.stringify({ ...m, fields: jsonSafe(finishFields(plugin.name, m.fields)) });
          messages += out.length;
        } catch (e) {
          throw new Error(`${plugin.name} input ${i} (seed ${SEED}): ${(e as Error).stack}`);
        }
        slowest = Math.max(slowest, performance.now() - t0);
        if (i % 1000 === 0) peak = Math.max(peak, process.memoryUsage().rss);
      }
      console.log(`fuzz ${plugin.name}: ${ITERATIONS} inputs, ${messages} messages, 0 crashes, slowest input ${slowest.toFixed(1)} ms, peak RSS ${(peak / 2 ** 20).toFixed(0)} MB`);
      expect(slowest).toBeLessThan(2000);
      // the mutations leave most streams parseable: messages come out
      expect(messages).toBeGreaterThan(ITERATIONS / 4);
    });
  }
});
