/**
 * Byte-exact against tshark: every connection of test/fixtures/real/EXPECTED.json is matched by
 * endpoints and first packet time, and each direction's sha256 compared. At least 98% must agree,
 * and the ones that differ must be exactly those listed in test/fixtures/KNOWN-DIFFERENCES.md.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runFlows, type Flow } from '../../main/service/pipeline/flow-recorder';
import { expectedReal, FIXTURES, REAL } from '../helpers/fixtures';

function knownDifferences(): string[] {
  const md = readFileSync(join(FIXTURES, 'KNOWN-DIFFERENCES.md'), 'utf8');
  return md
    .split('\n')
    .filter((l) => /^\| \S+\.pcap/.test(l))
    .map((l) => {
      const [file, endpoints, dir] = l.split('|').slice(1, 4).map((s) => s.trim());
      const [client, server] = endpoints.split(' → ');
      return `${file} ${client} ${server} ${dir}`;
    });
}

describe('reassembly matches tshark on the real captures', async () => {
  const expected = expectedReal();
  const results: { key: string; ok: boolean; detail: string }[] = [];
  const protocols: Record<string, string[]> = {};
  for (const [file, exp] of Object.entries(expected)) {
    const flows: Flow[] = [];
    await runFlows([join(REAL, file)], (f) => flows.push(f));
    protocols[file] = [...new Set(flows.map((f) => f.protocol).filter((p) => p !== null))].sort() as string[];
    const used = new Set<number>();
    for (const c of exp.connections) {
      const pair = [c.client, c.server].sort().join(' ');
      const t = Number(c.first_ts);
      let best: Flow | null = null;
      for (const f of flows) {
        if (used.has(f.id) || [f.client, f.server].sort().join(' ') !== pair) continue;
        if (!best || Math.abs(f.firstSeen - t) < Math.abs(best.firstSeen - t)) best = f;
      }
      if (best) used.add(best.id);
      for (const dir of ['c2s', 's2c'] as const) {
        const key = `${file} ${c.client} ${c.server} ${dir}`;
        if (!best) {
          results.push({ key, ok: false, detail: 'no connection' });
          continue;
        }
        // tshark's client is the sender of the first packet; ours may be the other end.
        const ours = best.client === c.client ? dir : dir === 'c2s' ? 's2c' : 'c2s';
        const ok = best.sha256[ours] === c[`sha256_${dir}`];
        results.push({ key, ok, detail: `tshark ${c[`bytes_${dir}`]} B, weft ${best.bytes[ours]} B` });
      }
    }
  }

  it('at least 98% of directions are byte-exact', () => {
    const ok = results.filter((r) => r.ok).length;
    expect(results.length).toBeGreaterThan(150);
    expect(ok / results.length).toBeGreaterThanOrEqual(0.98);
  });

  it('every direction that differs is a known, explained difference (and the list only shrinks)', () => {
    const differing = results.filter((r) => !r.ok).map((r) => r.key);
    expect(differing.sort()).toEqual(knownDifferences().sort());
  });

  it('protocol detection: database protocols only where the capture has them, and found there (PPTP once passed for MongoDB)', () => {
    const named = (file: string) => (/mysql/.test(file) ? 'mysql' : /mongo/.test(file) ? 'mongodb' : /redis|-resp-/.test(file) ? 'redis' : null);
    for (const [file, found] of Object.entries(protocols)) {
      const want = named(file);
      expect({ file, found: found.filter((p) => p !== 'http') }).toEqual({ file, found: want ? [want] : [] });
    }
    expect(Object.values(protocols).filter((p) => p.includes('http')).length).toBeGreaterThan(20);
  });
});
