/**
 * One flow model: the app's rows (the engine worker's flow table, as the session pages them) and
 * `weft flows`' records agree field for field on every real capture, and the app's filter and
 * sorts answer from the table's columns what they would answer from the records.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FlowRow } from '../../main/ipc/contract';
import { runFlows, type Flow } from '../../main/service/pipeline/flow-recorder';
import { compileFilter, flowFacts, udpFacts } from '../../main/service/pipeline/flow-query';
import type { UdpFlow } from '../../main/engine/flows';
import { Session } from '../../main/service/session/session';
import { ChildProcessHost } from '../../main/service/hosts/child-host';
import { REAL } from '../helpers/fixtures';

const tmp = mkdtempSync(join(tmpdir(), 'weft-one-model-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** What a row and a record both say, in the row's terms. */
function asRow(f: Flow): Omit<FlowRow, 'id'> {
  return {
    client: f.client,
    server: f.server,
    ipVersion: f.ipVersion,
    firstSeen: f.firstSeen,
    lastSeen: f.lastSeen,
    packets: f.packets,
    bytes: f.bytes,
    gaps: f.gaps,
    state: f.close,
    directionInferred: f.directionInferred,
    anomalies: f.anomalies,
    conflicts: f.conflicts,
    sha256: f.sha256,
    protocol: f.protocol,
    transport: 'tcp',
  };
}

/** A UDP conversation as the table shows it. */
function asUdpRow(u: UdpFlow): Omit<FlowRow, 'id'> {
  return {
    client: u.client,
    server: u.server,
    ipVersion: u.ipVersion,
    firstSeen: u.firstSeen,
    lastSeen: u.lastSeen,
    packets: u.packets,
    bytes: u.bytes,
    gaps: { c2s: 0, s2c: 0 },
    state: u.close,
    directionInferred: false,
    anomalies: {},
    conflicts: 0,
    sha256: u.sha256,
    protocol: u.protocol,
    transport: 'udp',
  };
}

const captures = readdirSync(REAL).filter((f) => /\.(pcap|pcapng)$/.test(f));

describe('the CLI and the app see the same flows', () => {
  it('field for field on every real capture', async () => {
    let compared = 0;
    for (const c of captures) {
      const file = join(REAL, c);
      const records: Flow[] = [];
      const udp: UdpFlow[] = [];
      await runFlows([file], (f) => records.push(f), { udp: (u) => udp.push(u) });
      const s = new Session(new ChildProcessHost({ spoolParent: tmp }));
      try {
        await s.openCapture({ path: file });
        await s.whenIdle();
        const page = await s.queryFlows({ offset: 0, limit: 10_000 });
        if (!page.ok) throw new Error(page.error);
        const rows = page.value.rows;
        expect(rows.map((r) => r.id), c).toEqual([...records, ...udp].map((f) => f.id).sort((a, b) => a - b));
        const byId = new Map<number, Omit<FlowRow, 'id'>>([...records.map((f) => [f.id, asRow(f)] as const), ...udp.map((u) => [u.id, asUdpRow(u)] as const)]);
        for (const r of rows) {
          const { id, ...row } = r;
          expect(row, `${c} #${id}`).toEqual(byId.get(id));
          compared++;
        }
        // the table's filter and sort agree with the same filter over the records
        for (const filter of ['has:gap', 'has:retransmission', 'state:rst', '!state:fin', 'proto:http', 'port:80', 'has:inferred', 'proto:udp', 'proto:tcp']) {
          const q = await s.queryFlows({ offset: 0, limit: 10_000, filter });
          if (!q.ok) throw new Error(q.error);
          const keep = compileFilter(filter);
          const want = [...records.filter((f) => keep(flowFacts(f))), ...udp.filter((u) => keep(udpFacts(u)))].map((f) => f.id).sort((a, b) => a - b);
          expect(q.value.rows.map((r) => r.id), `${c} ${filter}`).toEqual(want);
        }
        const sorted = await s.queryFlows({ offset: 0, limit: 10_000, sort: { key: 'bytesS2c', dir: 'desc' } });
        if (!sorted.ok) throw new Error(sorted.error);
        const want = [...records, ...udp].sort((a, b) => b.bytes.s2c - a.bytes.s2c || a.id - b.id).map((f) => f.id);
        expect(sorted.value.rows.map((r) => r.id), c).toEqual(want);
      } finally {
        await s.close();
      }
    }
    expect(compared).toBeGreaterThan(90);
  }, 120_000);
});
