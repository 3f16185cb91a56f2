/**
 * The flows filter language as a table: each expression against a small set of flows, the ids it
 * keeps; and each bad expression, the message it is refused with (never a filter that silently
 * matches nothing). The app's table, `weft flows --filter` and `weft export --filter` share it.
 */
import { describe, expect, it } from 'vitest';
import type { FlowState } from '../../main/ipc/contract';
import { compileFilter, FilterError, type FlowFacts } from '../../main/service/pipeline/flow-query';

const flow = (id: number, o: Partial<Omit<FlowFacts, 'anomaly'>> & { anomalies?: Record<string, number> }): FlowFacts => ({
  id,
  client: '10.0.0.1:40000',
  server: '10.0.0.2:80',
  protocol: null,
  transport: 'tcp',
  state: 'fin' as FlowState,
  directionInferred: false,
  packets: 10,
  bytesC2s: 100,
  bytesS2c: 1000,
  duration: 1,
  start: 1_700_000_000 + id,
  gapBytes: 0,
  conflicts: 0,
  ...o,
  anomaly: (n) => o.anomalies?.[n] ?? 0,
});

const FLOWS: FlowFacts[] = [
  flow(1, { protocol: 'http', bytesS2c: 3 << 20, duration: 2.5, packets: 2500 }),
  flow(2, { client: '192.168.1.5:51000', server: '10.0.0.2:21', state: 'rst', packets: 4, bytesC2s: 0, bytesS2c: 0, duration: 0.002 }),
  flow(3, { client: '[2001:db8::7]:50000', server: '[2001:db8:ffff::1]:443', protocol: 'http', gapBytes: 1448, anomalies: { gap: 1, retransmission: 3 } }),
  flow(4, { state: 'open', directionInferred: true, server: '172.16.0.9:6379', protocol: 'redis', conflicts: 1, anomalies: { 'conflicting-overlap': 1 } }),
  flow(5, { state: 'limit', client: '10.9.8.7:1234', server: '10.0.0.3:80', packets: 1, bytesS2c: 0, anomalies: { 'buffer-limit': 2 } }),
];

const keeps = (expr: string) => FLOWS.filter(compileFilter(expr)).map((f) => f.id);

describe('filter language: transports', () => {
  it('proto:tcp and proto:udp pick the transport; proto:dns the protocol, whatever the transport', () => {
    const both = [flow(1, { protocol: 'http' }), flow(2, { transport: 'udp', protocol: 'dns', server: '10.0.0.2:53' }), flow(3, { transport: 'udp' })];
    const ids = (e: string) => both.filter(compileFilter(e)).map((f) => f.id);
    expect([ids('proto:udp'), ids('proto:tcp'), ids('proto:dns'), ids('proto:udp and proto:none'), ids('not proto:udp')]).toEqual([[2, 3], [1], [2], [3], [1]]);
  });
});

describe('filter language', () => {
  const good: [string, number[]][] = [
    ['', [1, 2, 3, 4, 5]],
    ['port:80', [1, 5]],
    ['port:80 or port:21', [1, 2, 5]],
    ['port:80 || port:21', [1, 2, 5]],
    ['tcp.port == 80', [1, 5]],
    ['port == 443', [3]],
    ['port > 50000', [2]],
    ['port >= 50000', [2, 3]],
    ['ip:10.0.0.0/8', [1, 2, 4, 5]],
    ['ip:10.0.0.3', [5]],
    ['ip:2001:db8::/32', [3]],
    ['ip.addr == 192.168.1.5', [2]],
    ['ip != 10.0.0.2', [3, 4, 5]],
    ['bytes > 1M', [1]],
    ['s2c >= 1000', [1, 3, 4]],
    ['c2s == 0', [2]],
    ['duration >= 2s', [1]],
    ['duration < 5ms', [2]],
    ['packets < 10', [2, 5]],
    // rate: bits per second over the duration (flow 1: 3 MiB + 100 B in 2.5 s ≈ 10.07 Mbit/s)
    ['rate > 10M', [1]],
    ['rate > 10mbps and rate < 10.1M', [1]],
    ['rate >= 8k', [1, 3, 4]],
    ['rate == 0', [2]],
    ['start >= 1700000003', [3, 4, 5]],
    ['start > 1700000001.5 and start < 1700000004.5', [2, 3, 4]],
    ['gaps > 1k', [3]],
    ['id <= 2', [1, 2]],
    ['has:gap', [3]],
    ['has:retransmission', [3]],
    ['has:conflict', [4]],
    ['has:inferred', [4]],
    ['has:buffer-limit', [5]],
    ['state:rst', [2]],
    ['state:closed', [1, 2, 3, 5]],
    ['state:limit', [5]],
    ['state == open', [4]],
    ['proto:http', [1, 3]],
    ['proto:none', [2, 5]],
    ['proto != http', [2, 4, 5]],
    ['!port:20000 !state:open', [1, 2, 3, 5]],
    ['not proto:http', [2, 4, 5]],
    ['port:80 and proto:http', [1]],
    ['port:6379 && state:open', [4]],
    ['proto:http (port:443 or bytes > 2M)', [1, 3]],
    ['not (port:80 or port:443)', [2, 4]],
    ['(state:rst or state:limit) and packets < 5', [2, 5]],
    ['192.168', [2]],
    ['2001:db8::7', [3]],
    ['6379', [4]],
    ['10.0.0.2:21', [2]],
    ['192.168.1.5:51000 10.0.0.2:21', [2]],
    ['[2001:db8::7]:50000', [3]],
    ['[2001:db8:ffff::1]:443 or 10.0.0.3:80', [3, 5]],
  ];
  for (const [expr, ids] of good) it(`'${expr}' keeps ${ids.join(', ') || 'nothing'}`, () => expect(keeps(expr)).toEqual(ids));

  const bad: [string, RegExp][] = [
    ['foo:bar', /unknown filter 'foo:' at character 1 \(use has:, state:, port:, ip:, proto:/],
    ['bytes > lots', /bytes compares with a number \(like 1500, 64k, 1M\), not 'lots'/],
    ['duration > 5x', /duration compares with a number \(like 2s, 500ms\), not '5x'/],
    ['size > 5', /unknown field 'size' at character 1 \(fields: bytes, c2s, s2c, packets, duration, rate, start, gaps, conflicts, port, id, ip, proto, state\)/],
    ['rate > fast', /rate compares with a number \(bits per second, like 64k, 10M\), not 'fast'/],
    ['start > yesterday', /start compares with a number \(seconds since 1970, like 1700000000.5\), not 'yesterday'/],
    ['port:80 or', /the filter ends where a term was expected/],
    ['(port:80', /'\(' at character 1 is not closed/],
    ['port:80)', /'\)' at character 8 closes nothing/],
    ['has:sparkles', /has: takes gap, conflict, inferred or an anomaly \(retransmission, /],
    ['state:gone', /state: takes open, fin, rst, idle, end-of-input, limit or closed, not 'gone'/],
    ['port:http', /port: takes a port number, not 'http'/],
    ['ip:10.0.0.0/33', /ip: takes an address or a network/],
    ['ip:300.1.1.1', /ip: takes an address or a network/],
    ['bytes', /'bytes' at character 1 needs a comparison/],
    ['packets >', /'>' at character 9 needs a value after it/],
    ['ip > 10.0.0.1', /ip compares with == or != \(or use ip:NETWORK\), not '>'/],
    ['port:', /port: needs a value \(port:80\)/],
  ];
  for (const [expr, message] of bad)
    it(`'${expr}' is refused, saying why`, () => {
      expect(() => compileFilter(expr)).toThrow(FilterError);
      expect(() => compileFilter(expr)).toThrow(message);
    });
});
