/**
 * UDP conversations against tshark: every capture in test/fixtures/UDP-EXPECTED.json (tshark's
 * dissection of its UDP datagrams, by tools/tshark-udp.mjs) — real ones from the coverage and
 * real sets and a synthetic one made for it — must give the same conversations with the same
 * datagrams, payload bytes and payload sha256 each way. `weft flows` lists them, JSON and table.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { UdpFlow } from '../../main/engine/flows';
import { runFlows, type Flow } from '../../main/service/pipeline/flow-recorder';
import { FIXTURES } from '../helpers/fixtures';

interface Side {
  datagrams: number;
  bytes: number;
  sha256: string;
}
const expected: Record<string, { a: string; b: string; ab: Side; ba: Side }[]> = JSON.parse(readFileSync(join(FIXTURES, 'UDP-EXPECTED.json'), 'utf8'));
const BIN = join(__dirname, '..', '..', 'bin', 'weft.cjs');

describe('UDP conversations match tshark', () => {
  for (const [file, convs] of Object.entries(expected)) {
    it(`${file}: ${convs.length} conversations, datagrams, bytes and payloads each way`, async () => {
      const udp: UdpFlow[] = [];
      const tcp: Flow[] = [];
      await runFlows([join(FIXTURES, file)], (f) => tcp.push(f), { udp: (u) => udp.push(u) });
      const got = udp.map((u) => {
        const ab = u.client <= u.server;
        const side = (d: 'c2s' | 's2c') => ({ datagrams: u.packets[d], bytes: u.bytes[d], sha256: u.sha256[d] });
        return { pair: [u.client, u.server].sort().join(' '), lo: ab ? side('c2s') : side('s2c'), hi: ab ? side('s2c') : side('c2s') };
      });
      const want = convs.map((c) => {
        const ab = c.a <= c.b;
        return { pair: [c.a, c.b].sort().join(' '), lo: ab ? c.ab : c.ba, hi: ab ? c.ba : c.ab };
      });
      const byPair = (x: { pair: string }, y: { pair: string }) => x.pair.localeCompare(y.pair);
      expect(got.sort(byPair)).toEqual(want.sort(byPair));
      // one id space with the TCP connections, in order of first packet
      const ids = [...tcp.map((f) => f.id), ...udp.map((u) => u.id)].sort((x, y) => x - y);
      expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => i + 1));
    });
  }

  it('the client is the first sender, unless that sent from a well-known port to one that is not; DNS and QUIC are named', async () => {
    const udp: UdpFlow[] = [];
    await runFlows([join(FIXTURES, 'synthetic', 's-udp-conversations.pcap')], () => {}, { udp: (u) => udp.push(u) });
    const by = (port: number) => udp.find((u) => u.client.endsWith(`:${port}`))!;
    expect([by(33000).server, by(33001).server]).toEqual(['10.9.0.53:53', '10.9.0.53:53']); // 33001's answer came first
    expect([by(33000).protocol, by(50000).protocol, by(514).protocol]).toEqual(['dns', 'quic', null]);
    expect(by(5001).bytes.c2s).toBe(3000); // three fragments, out of order: one datagram
    expect(udp.every((u) => u.close === 'end-of-input' && u.proto === 'udp')).toBe(true);
  });

  it('weft flows lists them: JSON lines with proto "udp" (through the JSON thread, in order), table rows and the count', () => {
    const file = join(FIXTURES, 'coverage', 'c-ppp-pcapng-11-interfaces.pcapng');
    const lines = execFileSync(process.execPath, [BIN, 'flows', '--json', file], { encoding: 'utf8' }).trim().split('\n').map((l) => JSON.parse(l));
    const udp = lines.filter((l) => l.proto === 'udp');
    expect(udp.length).toBe(expected['coverage/c-ppp-pcapng-11-interfaces.pcapng'].length);
    expect(lines.filter((l) => l.proto === 'tcp').length).toBeGreaterThan(0);
    expect(new Set(lines.map((l) => l.id)).size).toBe(lines.length);
    const table = execFileSync(process.execPath, [BIN, 'flows', file], { encoding: 'utf8' });
    expect(table).toMatch(/ dns +1\/1 +44 +70 +- udp end-of-input/);
    expect(table).toMatch(new RegExp(`, ${udp.length} UDP conversations, `));
    const filtered = execFileSync(process.execPath, [BIN, 'flows', '--json', '--filter', 'port:53', file], { encoding: 'utf8' }).trim().split('\n').map((l) => JSON.parse(l));
    expect(filtered.length).toBeGreaterThan(0);
    expect(filtered.every((l) => l.proto === 'udp' && l.server.endsWith(':53'))).toBe(true);
  });
});
