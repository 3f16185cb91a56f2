/**
 * `weft flows` as users run it (the built CLI in a child process).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PcapWriter } from '../../main/engine/formats';
import { expectedReal, MALFORMED, REAL } from '../helpers/fixtures';
import { ether, ipv4, tcp, text } from '../helpers/packet-builder';

const BIN = join(__dirname, '..', '..', 'bin', 'weft.cjs');
const weft = (...args: string[]) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const dir = mkdtempSync(join(tmpdir(), 'weft-flows-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A capture where two out-of-order copies of the same bytes differ: BBBB first, then CCCC. */
function overlapCapture(): string {
  const parts: Uint8Array[] = [];
  const w = new PcapWriter((c) => parts.push(c), { linkType: 1 });
  const seg = (sport: number, dport: number, seq: number, ack: number, flags: number, data = '') =>
    ether(0x0800, ipv4({ src: sport === 40000 ? [10, 0, 0, 1] : [10, 0, 0, 2], dst: sport === 40000 ? [10, 0, 0, 2] : [10, 0, 0, 1] }, tcp({ sport, dport, seq, ack, flags }, text(data))));
  const pkts = [
    seg(40000, 80, 100, 0, 0x02),
    seg(80, 40000, 900, 101, 0x12),
    seg(40000, 80, 101, 901, 0x10),
    seg(40000, 80, 103, 901, 0x18, 'BBBB'),
    seg(40000, 80, 103, 901, 0x18, 'CCCC'),
    seg(40000, 80, 101, 901, 0x18, 'AA'),
    seg(40000, 80, 107, 901, 0x11),
    seg(80, 40000, 901, 108, 0x11),
  ];
  pkts.forEach((p, i) => w.packet(1_700_000_000, i * 1000, p));
  const f = join(dir, 'overlap.pcap');
  writeFileSync(f, Buffer.concat(parts));
  return f;
}

describe('weft flows', () => {
  it('prints a table for people: one row per connection, then a summary', () => {
    const r = weft('flows', join(REAL, 'zeek-irc-5k-line.pcap'));
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^\s+# client\s+server\s+proto\s+packets\s+bytes c2s\s+bytes s2c\s+gaps close\s+anomalies$/);
    expect(lines).toHaveLength(1 + 6 + 1);
    expect(lines.at(-1)).toBe('6 connections, 118 TCP packets of 118');
    expect(r.out).toMatch(/127\.0\.0\.1:\d+\??\s+127\.0\.0\.1:12345/);
  });

  it('--json gives the DESIGN.md record, byte-exact with tshark, IPv6 in brackets', () => {
    const f = 'zeek-communityid-ipv6-smtp.pcap';
    const r = weft('flows', '--json', join(REAL, f));
    expect(r.code).toBe(0);
    const o = JSON.parse(r.out);
    const e = expectedReal()[f].connections[0];
    expect(o).toMatchObject({ client: e.client, server: e.server, close: 'end-of-input', directionInferred: false, protocol: null }); // SMTP: no plugin yet
    expect(o.sha256).toEqual({ c2s: e.sha256_c2s, s2c: e.sha256_s2c });
    expect(o.bytes).toEqual({ c2s: e.bytes_c2s, s2c: e.bytes_s2c });
    expect(o.gaps).toEqual({ c2s: 0, s2c: 0 });
    for (const k of ['firstSeen', 'lastSeen', 'packets', 'anomalies']) expect(o).toHaveProperty(k);
    expect(o.firstSeen).toBeCloseTo(Number(e.first_ts), 6);
  });

  it('--policy decides which copy of differing out-of-order bytes wins', () => {
    const f = overlapCapture();
    const first = JSON.parse(weft('flows', '--json', f).out);
    const last = JSON.parse(weft('flows', '--json', '--policy', 'last', f).out);
    const sha = (s: string) => createHash('sha256').update(s).digest('hex');
    expect(first.sha256.c2s).toBe(sha('AABBBB'));
    expect(last.sha256.c2s).toBe(sha('AACCCC'));
    expect(first.anomalies['conflicting-overlap']).toBe(1);
  });

  it('--follow N prints the stream as text with turns marked', () => {
    const r = weft('flows', join(REAL, 'zeek-http-get.pcap'), '--follow', '1');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^connection 1: client 141\.142\.228\.5:59856, server 192\.150\.187\.43:80/);
    expect(r.out).toContain('=== client → server  (frame 4,');
    expect(r.out).toContain('GET /download/CHANGES.bro-aux.txt HTTP/1.1');
    expect(r.out).toContain('=== server → client');
    expect(r.out).toContain('HTTP/1.1 200 OK');
    const none = weft('flows', join(REAL, 'zeek-http-get.pcap'), '--follow', '9');
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/no connection 9 \(the capture has 1\)/);
  });

  it('a damaged file: every connection before the damage, a warning with the offset, exit 2', () => {
    const f = join(MALFORMED, 'suri-smtp-to-comma-damaged.pcap');
    const r = weft('flows', '--json', f);
    expect(r.code).toBe(2);
    const flows = r.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(flows).toHaveLength(1);
    expect(flows[0].bytes.c2s).toBeGreaterThan(1000);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/warning: .*suri-smtp-to-comma-damaged\.pcap: record 19 .* at byte offset 3695/);
  });

  it('reads several files in order as one capture', () => {
    const a = join(REAL, 'zeek-http-get.pcap');
    const b = join(REAL, 'zeek-redis-pipelining.pcap');
    const r = weft('flows', '--json', a, b);
    expect(r.code).toBe(0);
    expect(r.out.trim().split('\n')).toHaveLength(2);
  });

  it('bad flags are usage errors', () => {
    for (const args of [['--policy', 'middle'], ['--idle', '-3'], ['--follow', 'x']]) {
      const r = weft('flows', join(REAL, 'zeek-http-get.pcap'), ...args);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/Try 'weft --help'/);
    }
  });

  it('--idle parks a quiet connection: a packet that continues it resumes the same flow, with the quiet period', () => {
    const slow = join(dir, 'idle.pcap');
    const parts: Uint8Array[] = [];
    const w = new PcapWriter((c) => parts.push(c), { linkType: 1 });
    const c2s = (sport: number, seq: number, data: string, ack = 0) => ether(0x0800, ipv4({}, tcp({ sport, dport: 80, seq, ack, flags: 0x18 }, text(data))));
    const s2c = (dport: number, seq: number, data: string, ack = 0) => ether(0x0800, ipv4({ src: [10, 0, 0, 2], dst: [10, 0, 0, 1] }, tcp({ sport: 80, dport, seq, ack, flags: 0x18 }, text(data))));
    // A: the client speaks, the server answers, 700 s of silence (an OpenFlow-like control channel), then both go on.
    w.packet(1000, 0, c2s(40000, 1, 'hello', 5000));
    w.packet(1000, 1000, s2c(40000, 5000, 'ok', 6));
    // B: same ports as C later, but C starts a new sequence space: not a continuation.
    w.packet(1001, 0, c2s(40001, 100, 'first'));
    w.packet(1700, 0, s2c(40000, 5002, 'more', 6));
    w.packet(1700, 1000, c2s(40000, 6, 'bye', 5006));
    w.packet(1701, 0, c2s(40001, 900_000_000, 'other'));
    writeFileSync(slow, Buffer.concat(parts));
    const flows = weft('flows', '--json', '--idle', '600', slow)
      .out.trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const a = flows.filter((f) => f.client === '10.0.0.1:40000');
    expect(a).toHaveLength(1);
    expect(a[0]).toMatchObject({ server: '10.0.0.2:80', bytes: { c2s: 8, s2c: 6 }, packets: { c2s: 2, s2c: 2 }, close: 'end-of-input', quietSec: 699.999999 });
    expect(a[0].anomalies['resumed-after-idle']).toBe(1);
    const b = flows.filter((f) => f.client === '10.0.0.1:40001');
    expect(b.map((f) => [f.close, f.bytes.c2s, f.quietSec])).toEqual([
      ['idle', 5, 0],
      ['end-of-input', 5, 0],
    ]);
    // without --idle (10 minutes) nothing is parked here: A and B are one flow each, B ends with input
    const long = weft('flows', '--json', slow).out.trim().split('\n');
    expect(long).toHaveLength(3);
  });

  it('a connection parked past its park ends as idle, reported once at its last packet', () => {
    const slow = join(dir, 'park.pcap');
    const parts: Uint8Array[] = [];
    const w = new PcapWriter((c) => parts.push(c), { linkType: 1 });
    const p = (sport: number, seq: number, data: string) => ether(0x0800, ipv4({}, tcp({ sport, dport: 80, seq, flags: 0x18 }, text(data))));
    w.packet(1000, 0, p(40000, 1, 'one'));
    w.packet(1000 + 30 + 3 * 3600 + 5, 0, p(40001, 1, 'later')); // another connection, past idle + park
    w.packet(1000 + 30 + 3 * 3600 + 6, 0, p(40000, 4, 'two')); // too late to resume: a connection of its own
    writeFileSync(slow, Buffer.concat(parts));
    const flows = weft('flows', '--json', '--idle', '30', slow)
      .out.trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(flows.map((f) => [f.client, f.close, f.bytes.c2s, f.lastSeen])).toEqual([
      ['10.0.0.1:40000', 'idle', 3, 1000],
      ['10.0.0.1:40001', 'end-of-input', 5, 11835],
      ['10.0.0.1:40000', 'end-of-input', 3, 11836],
    ]);
  });

  it('--policy and --host-policy: which copy of overlapping bytes stands is the receiving host\'s', () => {
    const file = join(dir, 'overlap.pcap');
    const parts: Uint8Array[] = [];
    const w = new PcapWriter((c) => parts.push(c), { linkType: 1 });
    const c2s = (seq: number, flags: number, data = '') => ether(0x0800, ipv4({}, tcp({ sport: 40000, dport: 80, seq, ack: 5001, flags }, text(data))));
    const s2c = (seq: number, flags: number, data = '') => ether(0x0800, ipv4({ src: [10, 0, 0, 2], dst: [10, 0, 0, 1] }, tcp({ sport: 80, dport: 40000, seq, ack: 1001, flags }, text(data))));
    let t = 0;
    const put = (b: Uint8Array) => w.packet(1000, t++ * 1000, b);
    put(ether(0x0800, ipv4({}, tcp({ sport: 40000, dport: 80, seq: 1000, flags: 0x02 }))));
    put(s2c(5000, 0x12));
    put(c2s(1001, 0x10));
    // held "AAAA" at 3, then B's from 2 to 9 (starting before it, ending after), then "h" fills 1
    put(c2s(1003, 0x18, 'AAAA'));
    put(c2s(1002, 0x18, 'BBBBBBB'));
    put(c2s(1001, 0x18, 'h'));
    writeFileSync(file, Buffer.concat(parts));
    const bytes = (...args: string[]) => {
      const r = weft('flows', '--json', ...args, file);
      expect(r.code).toBe(0);
      const f = JSON.parse(r.out.trim().split('\n')[0]);
      return [f.bytes.c2s, f.sha256.c2s];
    };
    const sha = (x: string) => createHash('sha256').update(x).digest('hex');
    expect(bytes()).toEqual([8, sha('hBAAAABB')]); // first: the held A's stand
    // the server (10.0.0.2) receives the client's bytes: its policy decides them
    expect(bytes('--host-policy', '10.0.0.2=linux')).toEqual([8, sha('hBBBBBBB')]);
    expect(bytes('--host-policy', '10.0.0.0/24=bsd-right', '--policy', 'linux')).toEqual([8, sha('hBAAAABB')]);
    expect(bytes('--host-policy', '10.0.0.1=linux')).toEqual([8, sha('hBAAAABB')]); // the client's policy is for what it receives
    expect(bytes('--policy', 'windows')).toEqual([8, sha('hBBBBBBB')]);
    const bad = weft('flows', '--host-policy', '10.0.0.0/99=linux', file);
    expect([bad.code, bad.err]).toEqual([2, expect.stringContaining("--host-policy: '10.0.0.0/99=linux': 10.0.0.0/99 is not an address or a network")]);
    const unknown = weft('flows', '--policy', 'beos', file);
    expect([unknown.code, unknown.err]).toEqual([2, expect.stringContaining("--policy is one of first, last, linux")]);
  });

  it('--compare-policies replays a connection under every overlap policy: each outcome is what weft flows --policy gives, the differing ranges split the policies', () => {
    const file = join(REAL, 'zeek-tcp-reassembly.pcap'); // Zeek's test of conflicting retransmissions
    const r = weft('flows', '--json', '--follow', '1', '--compare-policies', file);
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.out) as { outcomes: { policies: string[]; c2s: { sha256: string } }[]; differences: { dir: string; offset: number; length: number; versions: { policies: string[]; bytes: number[] }[] }[] };
    expect(rep.outcomes.flatMap((o) => o.policies).sort()).toEqual(['bsd', 'bsd-right', 'first', 'hpux10', 'hpux11', 'irix', 'last', 'linux', 'macos', 'old-linux', 'solaris', 'vista', 'windows']);
    expect(rep.outcomes.length).toBeGreaterThan(2);
    for (const policy of ['first', 'last', 'linux', 'solaris', 'vista']) {
      const mine = JSON.parse(weft('flows', '--json', '--policy', policy, file).out.trim().split('\n')[0]);
      expect(rep.outcomes.find((o) => o.policies.includes(policy))!.c2s.sha256, policy).toBe(mine.sha256.c2s);
    }
    expect(rep.differences.length).toBeGreaterThan(0);
    for (const d of rep.differences) {
      expect(d.versions.length).toBeGreaterThan(1);
      expect(d.versions.flatMap((v) => v.policies)).toHaveLength(13);
    }
    const table = weft('flows', '--follow', '1', '--compare-policies', file).out;
    expect(table).toMatch(/^connection 1: client 63\.193\.213\.194:2564, server 128\.3\.97\.175:80: \d+ different outcomes\n/);
    expect(table).toMatch(/\nclient→server offset \d+, \d+ bytes:\n {2}\S/);
    expect(weft('flows', '--compare-policies', file).err).toContain('--compare-policies goes with --follow N');
  });

  it('detects the protocol by content, whatever the port', () => {
    const r = weft('flows', '--json', join(REAL, 'zeek-http-get.pcap'), join(REAL, 'zeek-redis-pipelining.pcap'));
    const flows = r.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(flows.map((f) => f.protocol)).toEqual(['http', 'redis']);
    const evader = JSON.parse(weft('flows', '--json', join(REAL, 'suri-http-evader-017.pcap')).out.trim().split('\n')[0]);
    expect(evader.protocol).toBe('http');
  });
});

describe('weft plugins and weft messages', () => {
  it('lists the plugins with their BPF filters', () => {
    const r = weft('plugins', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out.trim().split('\n')[0])).toMatchObject({ name: 'http', bpf: expect.stringContaining('tcp port 80') });
  });

  it('prints one line per message with flow, direction, time, byte range and summary', () => {
    const r = weft('messages', join(REAL, 'zeek-http-get.pcap'));
    expect(r.code).toBe(0);
    expect(r.out.trim().split('\n')).toEqual([
      '1362692526.939527000 http 141.142.228.5:59856 > 192.150.187.43:80 [0-136) GET /download/CHANGES.bro-aux.txt HTTP/1.1',
      '1362692527.009512000 http 192.150.187.43:80 > 141.142.228.5:59856 [0-5007) HTTP/1.1 200 OK (GET /download/CHANGES.bro-aux.txt)',
    ]);
    const j = weft('messages', '--json', '--plugin', 'http', join(REAL, 'zeek-http-cooper-grill-dvwa.pcapng'));
    const ms = j.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(ms).toHaveLength(6);
    expect(ms[1]).toMatchObject({ protocol: 'http', dir: 's2c', kind: 'response', fields: { status: 200 } });
    expect(weft('messages', '--plugin', 'gopher', join(REAL, 'zeek-http-get.pcap')).code).toBe(2);
  });
});

describe('--max-connections', () => {
  it('weft flows and weft export hold at most N connections open; each connection is reported once, those cut marked limit', () => {
    const file = join(dir, 'concurrent.pcap');
    spawnSync(process.execPath, [join(__dirname, '..', 'bench', 'gen-pcap.mjs'), '--out', file, '--conns', '400', '--profile', 'small', '--seed', '8']);
    const all = weft('flows', '--json', file).out.trim().split('\n').map((l) => JSON.parse(l) as { id: number; close: string });
    expect(all).toHaveLength(400);
    expect(all.filter((f) => f.close === 'limit')).toHaveLength(0);
    // both with the same engine threads (one per core): each holds its share of the limit (docs/decisions.md)
    const cut = weft('flows', '--json', '--max-connections', '40', file).out.trim().split('\n').map((l) => JSON.parse(l) as { id: number; close: string });
    expect(new Set(cut.map((f) => f.id)).size).toBe(400);
    expect(cut.filter((f) => f.close === 'limit').length).toBeGreaterThan(300);
    const out = join(dir, 'export-limited');
    const r = weft('export', file, '--format', 'jsonl', '--out', out, '--max-connections', '40');
    expect(r.code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { flows: { close: string }[] };
    expect(manifest.flows).toHaveLength(400);
    expect(manifest.flows.filter((f) => f.close === 'limit').length).toBe(cut.filter((f) => f.close === 'limit').length);
    for (const cmd of ['flows', 'messages', 'export']) {
      const bad = weft(cmd, file, '--max-connections', '0', ...(cmd === 'export' ? ['--format', 'jsonl', '--out', out] : []));
      expect([bad.code, bad.err]).toEqual([2, expect.stringContaining("--max-connections needs a whole number of connections (1 or more), not '0'")]);
    }
  });
});

describe('--filter', () => {
  it('weft flows and weft export keep the flows the filter language matches, and refuse what it cannot read', () => {
    const files = [join(REAL, 'zeek-irc-5k-line.pcap'), join(REAL, 'suri-port-reuse-24conns.pcap')]; // one capture of 30 connections
    const file = files[0];
    const all = weft('flows', '--json', ...files).out.trim().split('\n').map((l) => JSON.parse(l) as { id: number; bytes: { c2s: number; s2c: number }; close: string });
    const big = (f: { bytes: { c2s: number; s2c: number } }) => f.bytes.c2s + f.bytes.s2c > 1024;
    for (const json of [true, false]) {
      const r = weft('flows', ...(json ? ['--json'] : []), '--filter', 'bytes > 1k or (id > 25 and not state:fin)', ...files);
      expect(r.code).toBe(0);
      const ids = json ? r.out.trim().split('\n').map((l) => (JSON.parse(l) as { id: number }).id) : r.out.trim().split('\n').slice(1, -1).map((l) => Number(l.trim().split(/\s+/)[0]));
      expect(ids).toEqual(all.filter((f) => big(f) || ((f as { id: number }).id > 25 && f.close !== 'fin')).map((f) => f.id));
      expect(ids.length).toBeGreaterThan(3);
      expect(ids.length).toBeLessThan(all.length);
      if (!json) expect(r.out.trim().split('\n').at(-1)).toMatch(new RegExp(`^${ids.length} of ${all.length} connections shown`));
    }
    const out = join(dir, 'export-filtered');
    expect(weft('export', ...files, '--format', 'jsonl', '--out', out, '--filter', 'not (bytes > 1k)').code).toBe(0);
    const exported = readFileSync(join(out, 'flows.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { weft_id: number }).weft_id);
    expect(exported.sort((a, b) => a - b)).toEqual(all.filter((f) => !big(f)).map((f) => f.id).sort((a, b) => a - b));
    const bad = weft('flows', file, '--filter', 'port:80 or');
    expect([bad.code, bad.err]).toEqual([2, expect.stringContaining('weft: --filter: the filter ends where a term was expected')]);
    const badExport = weft('export', file, '--format', 'jsonl', '--out', join(dir, 'x'), '--filter', 'colour:red');
    expect([badExport.code, badExport.err]).toEqual([2, expect.stringContaining("unknown filter 'colour:'")]);
  });
});
