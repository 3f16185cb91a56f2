/**
 * Byte-exact against tshark, through the self-test users run (main/service/selftest.ts): every
 * connection of each set's EXPECTED.json is matched by endpoints and first packet time, and each
 * direction's sha256 compared. On the real captures at least 98% must agree, and the ones that
 * differ must be exactly those listed in test/fixtures/KNOWN-DIFFERENCES.md. The link-layer sets
 * (coverage/, real captures; synthetic/, our own framings judged by tshark) must agree everywhere.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runFlows, type Flow } from '../../main/service/pipeline/flow-recorder';
import { knownDifferences, selfTest, type SelfTestRow } from '../../main/service/selftest';
import { expectedIn, FIXTURES, REAL, SYNTHETIC } from '../helpers/fixtures';

const key = (r: SelfTestRow) => `${r.file} ${r.client} ${r.server} ${r.dir}`;
/** Connections whose packet count is not tshark's (one row per connection: the c2s one). */
const packetsWrong = (rows: SelfTestRow[]) => rows.filter((r) => r.dir === 'c2s' && r.tsharkPackets !== r.weftPackets).map((r) => `${r.file} ${r.client} ${r.server}: tshark ${r.tsharkPackets}, weft ${r.weftPackets}`);

describe('link layers and encapsulations match tshark', async () => {
  const { rows } = await selfTest(FIXTURES, ['coverage', 'synthetic']);
  const coverage = rows.filter((r) => r.set === 'coverage');
  const synthetic = rows.filter((r) => r.set === 'synthetic');

  it('every direction of the real coverage captures (NFLOG, radiotap, MPLS, ERSPAN II, Geneve, GTP-U, FDDI, …) is byte-exact', () => {
    expect(coverage.length).toBe(68);
    expect(coverage.filter((r) => r.verdict !== 'match')).toEqual([]);
  });

  it("packet counts are tshark's (every frame of the connection, its final ACK after the close included)", () => {
    expect(packetsWrong(synthetic)).toEqual([]);
    // Retransmissions 66-116 s after the close, past the wait for packets after it (LINGER_SEC): absorbed, not counted.
    expect(packetsWrong(coverage)).toEqual(['c-suri-erspan2-bug5437.pcap 41.108.52.138:54530 126.203.57.64:80: tshark 19, weft 11']);
  });

  it('every synthetic framing (IPoIB, 802.11 bare/PPI/Prism/AVS, ERSPAN I/III, MPLS pseudowire, PBB, FabricPath, LOOP, ENC, PFLOG, ARCNET, Juniper, Teredo, …) is byte-exact', () => {
    expect(synthetic.length).toBe(2 * Object.values(expectedIn(SYNTHETIC)).reduce((n, e) => n + e.connections.length, 0));
    expect(synthetic.length).toBeGreaterThanOrEqual(48);
    expect(synthetic.filter((r) => r.verdict !== 'match')).toEqual([]);
  });
});

describe('reassembly matches tshark on the real captures', async () => {
  const result = await selfTest(FIXTURES, ['real']);
  const rows = result.rows;

  it('at least 98% of directions are byte-exact', () => {
    expect(rows.length).toBeGreaterThan(150);
    expect(result.match / rows.length).toBeGreaterThanOrEqual(0.98);
    expect(result.failed).toBe(0);
  });

  it("packet counts are tshark's on the real connections, the final ACK absorbed by the tombstone included", () => {
    expect(rows.filter((r) => r.dir === 'c2s').length).toBe(93);
    expect(packetsWrong(rows)).toEqual([]);
  });

  it('every direction that differs is a known, explained difference (and the list only shrinks)', () => {
    const differing = rows.filter((r) => r.verdict !== 'match').map(key);
    expect(differing.sort()).toEqual([...knownDifferences(FIXTURES).keys()].sort());
    expect(rows.filter((r) => r.verdict === 'known').every((r) => (r.reason ?? '').length > 40)).toBe(true);
  });

  it('protocol detection: database protocols only where the capture has them, and found there (PPTP once passed for MongoDB)', async () => {
    const named = (file: string) => (/mysql/.test(file) ? 'mysql' : /mongo/.test(file) ? 'mongodb' : /redis|-resp-/.test(file) ? 'redis' : null);
    let withHttp = 0;
    for (const file of Object.keys(expectedIn(REAL))) {
      const flows: Flow[] = [];
      await runFlows([join(REAL, file)], (f) => flows.push(f));
      const found = [...new Set(flows.map((f) => f.protocol).filter((p) => p !== null))].sort() as string[];
      if (found.includes('http')) withHttp++;
      const want = named(file);
      expect({ file, found: found.filter((p) => p !== 'http') }).toEqual({ file, found: want ? [want] : [] });
    }
    expect(withHttp).toBeGreaterThan(20);
  });
});
