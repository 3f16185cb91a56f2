/**
 * The self-test: Weft reassembles the real captures it ships with (and the link-layer sets) and
 * compares every direction of every connection with what tshark reassembles, as stored in each
 * set's EXPECTED.json (sha256 of Follow TCP Stream's bytes). A user runs it on their own machine
 * and build (`weft selftest`, Help › Self-test in the app) to see that what Weft shows is what
 * Wireshark would. The directions that differ by a decided policy are listed, with the reason, in
 * KNOWN-DIFFERENCES.md; any other difference is a failure.
 *
 * Where the captures are: WEFT_SELFTEST_DIR, the packaged app's resources (selftest/), or the
 * source tree's test/fixtures (an npm install or a clone).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SelfTestReport, SelfTestRow } from '../ipc/contract';
import { runFlows, type Flow } from './pipeline/flow-recorder';

export type { SelfTestReport as SelfTestResult, SelfTestRow } from '../ipc/contract';

/** The fixture sets, by folder name, in the order they are run. */
const SELFTEST_SETS = ['real', 'coverage', 'synthetic'] as const;

interface Expected {
  connections: { client: string; server: string; first_ts: string; packets: number; bytes_c2s: number; bytes_s2c: number; sha256_c2s: string; sha256_s2c: string }[];
}

/** The folder holding the sets (each with its captures and EXPECTED.json), or null when none is found. */
export function selfTestRoot(env: NodeJS.ProcessEnv = process.env): string | null {
  const resources = (process as { resourcesPath?: string }).resourcesPath;
  const candidates = [
    env.WEFT_SELFTEST_DIR,
    resources ? join(resources, 'selftest') : undefined,
    // out/cli (bundled) or main/service (sources): the repository's test/fixtures
    join(__dirname, '..', '..', 'test', 'fixtures'),
    join(__dirname, '..', 'test', 'fixtures'),
  ];
  for (const c of candidates) if (c && existsSync(join(c, 'real', 'EXPECTED.json'))) return c;
  return null;
}

/** KNOWN-DIFFERENCES.md's rows: "file client server dir" → reason. */
export function knownDifferences(root: string): Map<string, string> {
  const known = new Map<string, string>();
  const path = join(root, 'KNOWN-DIFFERENCES.md');
  if (!existsSync(path)) return known;
  for (const l of readFileSync(path, 'utf8').split('\n')) {
    if (!/^\| \S+\.pcap/.test(l)) continue;
    const cells = l.split('|').map((s) => s.trim());
    const [file, endpoints, dir] = cells.slice(1, 4);
    const [client, server] = endpoints.split(' → ');
    known.set(`${file} ${client} ${server} ${dir}`, cells[6] ?? '');
  }
  return known;
}

/**
 * Runs the self-test over `sets` under `root`. Each expected connection is matched to Weft's
 * flow with the same endpoints (either way round) nearest its first packet's time.
 */
export async function selfTest(root: string, sets: readonly string[] = SELFTEST_SETS, onCapture?: (set: string, file: string) => void): Promise<SelfTestReport> {
  const known = knownDifferences(root);
  const rows: SelfTestRow[] = [];
  let captures = 0;
  for (const set of sets) {
    const dir = join(root, set);
    const path = join(dir, 'EXPECTED.json');
    if (!existsSync(path)) continue;
    const expected: Record<string, Expected> = JSON.parse(readFileSync(path, 'utf8'));
    for (const [file, exp] of Object.entries(expected)) {
      onCapture?.(set, file);
      captures++;
      const flows: Flow[] = [];
      await runFlows([join(dir, file)], (f) => flows.push(f));
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
        for (const d of ['c2s', 's2c'] as const) {
          const key = `${file} ${c.client} ${c.server} ${d}`;
          const row: SelfTestRow = { set, file, client: c.client, server: c.server, dir: d, tsharkBytes: c[`bytes_${d}`], weftBytes: -1, tsharkPackets: c.packets, weftPackets: -1, verdict: 'missing' };
          if (best) {
            // tshark's client is the sender of the first packet; Weft's may be the other end
            const ours = best.client === c.client ? d : d === 'c2s' ? 's2c' : 'c2s';
            row.weftBytes = best.bytes[ours];
            row.weftPackets = best.packets.c2s + best.packets.s2c;
            const reason = known.get(key);
            row.verdict = best.sha256[ours] === c[`sha256_${d}`] ? 'match' : reason !== undefined ? 'known' : 'differs';
            if (row.verdict === 'known') row.reason = reason;
          }
          rows.push(row);
        }
      }
    }
  }
  const match = rows.filter((r) => r.verdict === 'match').length;
  const knownCount = rows.filter((r) => r.verdict === 'known').length;
  return { root, captures, rows, match, known: knownCount, failed: rows.length - match - knownCount };
}
