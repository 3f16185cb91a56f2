/**
 * The `weft` command as users run it: the built bundle through bin/weft.cjs, in a child process.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectedReal, MALFORMED, REAL } from '../helpers/fixtures';

const BIN = join(__dirname, '..', '..', 'bin', 'weft.cjs');

function weft(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('weft CLI', () => {
  it('--help lists the commands and exits 0', () => {
    const r = weft('--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('weft info FILE');
    expect(r.out).toContain('weft packets FILE');
  });

  it('unknown commands and bad flags exit 2 with a hint', () => {
    for (const args of [['frobnicate'], ['packets', join(REAL, 'zeek-http-get.pcap'), '--limit', 'x'], ['info'], ['info', '--nope', 'f']]) {
      const r = weft(...args);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/^weft: .+\nTry 'weft --help'\.\n$/);
    }
  });

  it('info prints a summary of a real capture', () => {
    const r = weft('info', join(REAL, 'zeek-http-vlan.pcap'));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/format\s+pcap/);
    expect(r.out).toMatch(/link types\s+ether \(14\)/);
    expect(r.out).toMatch(/packets\s+14 \(TCP 14, UDP 0, other IP 0\)/);
    expect(r.out).toMatch(/first packet\s+\d{4}-\d\d-\d\dT/);
    expect(r.err).toBe('');
  });

  it('info --json gives one object per file, with anomalies by kind', () => {
    const files = ['zeek-ldap-gap-data-missing-multiif.pcapng', 'suri-decode-sll2-01.pcap'];
    const r = weft('info', '--json', ...files.map((f) => join(REAL, f)));
    expect(r.code).toBe(0);
    const objs = r.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(objs).toHaveLength(2);
    const exp = expectedReal();
    expect(objs[0].format).toBe('pcapng');
    expect(objs[0].packets).toBe(Number(exp[files[0]].packets_total));
    expect(objs[0].interfaces.length).toBeGreaterThan(1);
    expect(objs[1].linkTypes).toEqual({ 'linux-sll2': 5 });
    expect(objs[1].firstTime.sec).toBeGreaterThan(0);
    expect(objs[1].error).toBeNull();
  });

  it('info on damaged files reports every file, then exits 2 with one line each', () => {
    const bad = join(MALFORMED, 'mk-cut-mid-packet--zeek-http-get.pcap');
    const r = weft('info', '--json', join(REAL, 'zeek-http-get.pcap'), bad);
    expect(r.code).toBe(2);
    const objs = r.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(objs.map((o) => o.packets)).toEqual([14, 5]);
    expect(objs[1].error).toMatchObject({ kind: 'truncated', offset: 590 });
    const lines = r.err.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(bad);
    expect(lines[0]).toContain('byte offset 590');
  });

  it('packets prints one line per packet with flags, seq/ack and length', () => {
    const r = weft('packets', join(REAL, 'zeek-http-get.pcap'), '--limit', '4');
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe('1 1362692526.869344000 ether 141.142.228.5:59856 > 192.150.187.43:80 TCP [S] seq=4263588410 ack=0 win=65535 len=0');
    expect(lines[3]).toMatch(/TCP \[P\.\] seq=4263588411 ack=2779762239 win=8235 len=136$/);
  });

  it('packets --json carries TCP options and IPv6 addresses', () => {
    const r = weft('packets', '--json', join(REAL, 'zeek-communityid-ipv6-smtp.pcap'), '--limit', '1');
    expect(r.code).toBe(0);
    const o = JSON.parse(r.out);
    expect(o).toMatchObject({ frame: 1, ipVersion: 6, src: '2001:470:e5bf:dead:4957:2174:e82c:4887', srcPort: 63943, dstPort: 25, flags: 'S' });
    expect(o.mss).toBeGreaterThan(0);
  });

  it('packets on a damaged file prints what came before, then exits 2', () => {
    const r = weft('packets', join(MALFORMED, 'mk-huge-incl-len--zeek-http-get.pcap'));
    expect(r.code).toBe(2);
    expect(r.out.trim().split('\n')).toHaveLength(2);
    expect(r.err).toMatch(/mk-huge-incl-len--zeek-http-get\.pcap: record 3 claims 4294967280 captured bytes .* at byte offset 208/);
  });

  it('missing files, directories and non-captures give a one-line error and exit 2', () => {
    const cases: [string, RegExp][] = [
      ['/nonexistent/x.pcap', /x\.pcap: no such file$/],
      [REAL, /not a regular file/],
      [join(REAL, 'SOURCES.md'), /not a pcap or pcapng file/],
    ];
    for (const [f, re] of cases) {
      const r = weft('info', f);
      expect(r.code).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err.trim()).toMatch(re);
    }
  });
});
