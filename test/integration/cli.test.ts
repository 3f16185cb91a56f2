/**
 * The `weft` command as users run it: the built bundle through bin/weft.cjs, in a child process.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectedReal, MALFORMED, REAL } from '../helpers/fixtures';

const BIN = join(__dirname, '..', '..', 'bin', 'weft.cjs');

function weft(...args: string[]) {
  return weftWith({}, ...args);
}
function weftWith(env: Record<string, string>, ...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('weft CLI', () => {
  it('--help lists the commands and exits 0', () => {
    const r = weft('--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('weft info FILE');
    expect(r.out).toContain('weft packets FILE');
  });

  it('every command has its own --help (and -h): its usage and options, exit 0', () => {
    const commands = [...weft('--help').out.matchAll(/^ {2}weft ([a-z]+) /gm)].map((m) => m[1]);
    expect(new Set(commands).size).toBeGreaterThanOrEqual(11);
    for (const c of new Set(commands)) {
      for (const flag of ['--help', '-h']) {
        const r = weft(c, flag);
        expect({ c, flag, code: r.code, err: r.err }).toEqual({ c, flag, code: 0, err: '' });
        expect(r.out).toMatch(new RegExp(`^Usage:\n {2}weft ${c}\\b`));
        expect(r.out).toContain('Exit status:');
      }
    }
    expect(weft('flows', '--help').out).toContain('--host-policy NET=P');
    expect(weft('serve', '--help').out).toContain('--out DIR');
  });

  it('npm start without Electronʼs binary says so and points to weft serve (no stack trace); with it, finds it', () => {
    const start = join(__dirname, '..', '..', 'tools', 'start.mjs');
    const empty = mkdtempSync(join(tmpdir(), 'weft-no-electron-'));
    try {
      const r = spawnSync(process.execPath, [start, '--check'], { encoding: 'utf8', env: { ...process.env, ELECTRON_OVERRIDE_DIST_PATH: empty } });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^weft: the desktop app needs Electron's binary, which is not installed here/);
      expect(r.stderr).toContain('npx weft serve');
      expect(r.stderr).not.toMatch(/\n\s+at /);
      writeFileSync(join(empty, 'electron'), '#!/bin/sh\n', { mode: 0o755 });
      const ok = spawnSync(process.execPath, [start, '--check'], { encoding: 'utf8', env: { ...process.env, ELECTRON_OVERRIDE_DIST_PATH: empty } });
      expect(ok.status).toBe(0);
      expect(ok.stdout.trim()).toBe(join(empty, 'electron'));
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('unknown commands and bad flags exit 2 with a hint', () => {
    for (const args of [['frobnicate'], ['packets', join(REAL, 'zeek-http-get.pcap'), '--limit', 'x'], ['info'], ['info', '--nope', 'f']]) {
      const r = weft(...args);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/^weft: .+\nTry 'weft --help'\.\n$/);
    }
  });

  it('selftest: every direction of the shipped captures against tshark, one row each, and a verdict', () => {
    const r = weft('selftest');
    expect(r.code).toBe(0);
    const rows = r.out.split('\n').filter((l) => /^(real|coverage|synthetic) /.test(l));
    const expected = Object.values(expectedReal()).reduce((n, e) => n + 2 * e.connections.length, 0);
    expect(rows.filter((l) => l.startsWith('real ')).length).toBe(expected);
    expect(rows.filter((l) => / ok$/.test(l)).length).toBe(rows.length - 1);
    expect(r.out).toMatch(/known: zeek-tcp-rst-inject\.pcap 1\.2\.0\.2:2527 → 1\.2\.0\.3:6649 c2s: policy/);
    expect(r.out).toMatch(new RegExp(`\\n${rows.length} directions: ${rows.length - 1} byte-exact with tshark, 1 known difference .*, 0 failed\\n$`));
    const j = JSON.parse(weft('selftest', '--json').out);
    expect([j.failed, j.known, j.match]).toEqual([0, 1, rows.length - 1]);
  });

  it('selftest fails, naming the direction, when Weft and the stored expectation disagree', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-selftest-'));
    try {
      mkdirSync(join(dir, 'real'));
      const file = 'zeek-http-get.pcap';
      copyFileSync(join(REAL, file), join(dir, 'real', file));
      const exp = { [file]: expectedReal()[file] };
      exp[file].connections[0].sha256_s2c = '0'.repeat(64);
      writeFileSync(join(dir, 'real', 'EXPECTED.json'), JSON.stringify(exp));
      const r = weftWith({ WEFT_SELFTEST_DIR: dir }, 'selftest');
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/zeek-http-get\.pcap .* s2c .* DIFFERS\n/);
      expect(r.out).toMatch(/2 directions: 1 byte-exact with tshark, 0 known differences .*, 1 failed/);
      // a folder without captures is passed over for the next place (here the source tree's)
      const none = weftWith({ WEFT_SELFTEST_DIR: join(dir, 'nothing') }, 'selftest');
      expect(none.code).toBe(0);
      expect(none.out).toContain(`from ${join(__dirname, '..', 'fixtures')}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
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
