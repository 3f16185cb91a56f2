/**
 * Byte-exact against tshark: every connection of test/fixtures/real/EXPECTED.json is matched by
 * endpoints and first packet time, and each direction's sha256 compared. At least 98% must agree,
 * and the ones that differ must be exactly those listed in test/fixtures/KNOWN-DIFFERENCES.md.
 * The link-layer sets (coverage/, real captures; synthetic/, our own framings judged by tshark)
 * must agree everywhere.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runFlows, type Flow } from '../../main/service/pipeline/flow-recorder';
import { COVERAGE, expectedIn, FIXTURES, REAL, SYNTHETIC } from '../helpers/fixtures';

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

interface Result {
  key: string;
  ok: boolean;
  detail: string;
  /** Packets of the connection, tshark's (frames of its tcp.stream) and Weft's (both directions). */
  packets?: [number, number];
}

/** Compares every direction of `dir`'s EXPECTED.json with what Weft reassembles. */
async function compare(dir: string, protocols: Record<string, string[]> = {}): Promise<Result[]> {
  const results: Result[] = [];
  for (const [file, exp] of Object.entries(expectedIn(dir))) {
    const flows: Flow[] = [];
    await runFlows([join(dir, file)], (f) => flows.push(f));
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
        results.push({ key, ok, detail: `tshark ${c[`bytes_${dir}`]} B, weft ${best.bytes[ours]} B`, packets: [c.packets, best.packets.c2s + best.packets.s2c] });
      }
    }
  }
  return results;
}

describe('link layers and encapsulations match tshark', async () => {
  const coverage = await compare(COVERAGE);
  const synthetic = await compare(SYNTHETIC);

  it('every direction of the real coverage captures (NFLOG, radiotap, MPLS, ERSPAN II, Geneve, GTP-U, FDDI, …) is byte-exact', () => {
    expect(coverage.length).toBe(68);
    expect(coverage.filter((r) => !r.ok)).toEqual([]);
  });

  it('packet counts are tshark\'s (every frame of the connection, its final ACK after the close included)', () => {
    const wrong = (rs: Result[]) => rs.filter((r) => r.key.endsWith('c2s') && r.packets![0] !== r.packets![1]).map((r) => `${r.key.slice(0, -4)}: tshark ${r.packets![0]}, weft ${r.packets![1]}`);
    expect(wrong(synthetic)).toEqual([]);
    // Retransmissions 66-116 s after the close, past the wait for packets after it (LINGER_SEC): absorbed, not counted.
    expect(wrong(coverage)).toEqual(['c-suri-erspan2-bug5437.pcap 41.108.52.138:54530 126.203.57.64:80: tshark 19, weft 11']);
  });

  it('every synthetic framing (IPoIB, 802.11 bare/PPI/Prism/AVS, ERSPAN I/III, MPLS pseudowire, PBB, FabricPath, LOOP, ENC, PFLOG, ARCNET, Juniper, Teredo, …) is byte-exact', () => {
    expect(synthetic.length).toBe(2 * Object.keys(expectedIn(SYNTHETIC)).length);
    expect(synthetic.length).toBeGreaterThanOrEqual(48);
    expect(synthetic.filter((r) => !r.ok)).toEqual([]);
  });
});

describe('reassembly matches tshark on the real captures', async () => {
  const protocols: Record<string, string[]> = {};
  const results = await compare(REAL, protocols);

  it('at least 98% of directions are byte-exact', () => {
    const ok = results.filter((r) => r.ok).length;
    expect(results.length).toBeGreaterThan(150);
    expect(ok / results.length).toBeGreaterThanOrEqual(0.98);
  });

  it('packet counts are tshark\'s on the real connections, the final ACK absorbed by the tombstone included', () => {
    const conns = results.filter((r) => r.key.endsWith('c2s'));
    expect(conns.length).toBe(93);
    // Four connections go on after their final ACK (a duplicate ACK, data after the FIN seconds
    // later): the tombstone absorbs those packets after the flow was reported (LINGER_SEC).
    expect(conns.filter((r) => r.packets![0] !== r.packets![1]).map((r) => `${r.key.slice(0, -4)}: tshark ${r.packets![0]}, weft ${r.packets![1]}`)).toEqual([
      'suri-tfo-syn-data-rawip.pcap 192.168.0.45:51615 17.253.144.10:443: tshark 52, weft 51',
      'tcpdump-pptp-be.pcap 10.1.1.11:3025 10.1.1.10:1723: tshark 22, weft 21',
      'tcpdump-ssh.pcap 202.108.87.165:62146 223.132.53.222:22: tshark 54, weft 53',
      'zeek-tcp-reassembly.pcap 63.193.213.194:2564 128.3.97.175:80: tshark 117, weft 113',
    ]);
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
