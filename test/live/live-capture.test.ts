/**
 * Live capture on `lo` with real sockets on the test's own ports (root or CAP_NET_RAW needed;
 * this machine and CI run as root), both ways: through dumpcap and in-process (Weft's libpcap
 * binding). Each scenario runs in live-child.ts inside a private network namespace (unshare
 * --net: our own loopback, nothing else sees it); most with segmentation offload off and a
 * 16 KiB MTU (many segments), the one beside tcpdump with the loopback as it comes (64 KiB+ frames).
 * Known payloads must come out byte-exact in the completed flows and in the saved pcapng read
 * back with our reader.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..', '..');
const root = process.getuid?.() === 0;
const ETHTOOL = ['/usr/sbin/ethtool', '/sbin/ethtool', '/usr/bin/ethtool'].find((p) => existsSync(p));

interface Slim {
  client: string;
  protocol: string | null;
  bytes: { c2s: number; s2c: number };
  sha256: { c2s: string; s2c: string };
  gaps: { c2s: number; s2c: number };
  close: string;
  directionInferred: boolean;
}
interface ChildResult {
  stats: { received: number; processed: number; dropped: number };
  buffers: number;
  expected: { clientPort: number; request: string; response: string; requestBytes: number; responseBytes: number }[];
  flows: Slim[];
  saved: Slim[];
}

function scenario(name: string, via: string, loopback: 'small-mtu' | 'as-is' = 'small-mtu', arg = ''): ChildResult {
  if (!ETHTOOL) throw new Error('ethtool is needed to turn segmentation offload off in the test namespace: apt-get install ethtool');
  const lo = loopback === 'small-mtu' ? `ip link set lo mtu 16384 up && ${ETHTOOL} -K lo tso off gso off gro off >/dev/null 2>&1` : 'ip link set lo up';
  const setup = `${lo}; exec "${process.execPath}" "${join(ROOT, 'out', 'cli', 'live-child.cjs')}" ${name}${arg ? ` "${arg}"` : ''}`;
  const r = spawnSync('unshare', ['--net', 'sh', '-c', setup], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 120_000, env: { ...process.env, WEFT_CAPTURE_VIA: via } });
  if (r.status !== 0) throw new Error(`live-child ${name} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function check(flows: Slim[], r: ChildResult): void {
  expect(flows.length).toBe(r.expected.length);
  const byPort = new Map(r.expected.map((e) => [e.clientPort, e]));
  for (const f of flows) {
    const e = byPort.get(Number(f.client.slice(f.client.lastIndexOf(':') + 1)))!;
    expect(e, `unexpected client ${f.client}`).toBeDefined();
    expect([f.bytes, f.gaps]).toEqual([{ c2s: e.requestBytes, s2c: e.responseBytes }, { c2s: 0, s2c: 0 }]);
    expect(f.sha256).toEqual({ c2s: e.request, s2c: e.response });
    expect(f.directionInferred).toBe(false);
  }
}

// both ways of capturing: dumpcap as the helper holding the rights, and libpcap in-process (cap)
for (const via of ['dumpcap', 'libpcap'] as const)
describe.runIf(root)(`live capture on lo via ${via}`, () => {
  it("lists devices with lo as loopback; refuses bad filters with libpcap's message", () => {
    const r = scenario('checks', via) as unknown as { devices: { name: string; loopback: boolean; up: boolean; addresses: string[] }[]; goodFilter: string | null; badFilter: string; noDevice: string };
    const lo = r.devices.find((d) => d.name === 'lo');
    expect(lo).toMatchObject({ loopback: true, up: true });
    expect(lo!.addresses).toContain('127.0.0.1');
    expect(r.goodFilter).toBeNull();
    expect(r.badFilter).toMatch(/bad capture filter 'tcp port nonsense': .*nonsense/);
    expect(r.noDevice).toMatch(/^no-device: no capture device 'nosuchdev0'\n  Fix: pick one of: .*\blo\b/);
  });

  for (const v of ['v4', 'v6']) {
    it(`text, random binary and a 10 MB transfer over IP${v}: byte-exact live and in the saved pcapng`, () => {
      const r = scenario(`text-binary-big-${v}`, via);
      expect(r.stats.dropped).toBe(0);
      check(r.flows, r);
      check(r.saved, r);
      expect(r.flows.every((f) => f.close === 'fin')).toBe(true);
      expect(r.flows.map((f) => f.protocol)).toEqual(['http', null, null]);
      // cap fills one Buffer for every packet: it is handed out as a plain Uint8Array, whose
      // slice() copies (a Buffer's is a view), so what consumers keep is not overwritten
      expect(r.buffers).toBe(0);
      if (v === 'v6') expect(r.flows[0].client).toMatch(/^\[::1\]:\d+$/);
    }, 150_000);
  }

  it('weft capture --threads 3: the engine threads fed live print the same flows, byte-exact, as they complete, and save the same file', () => {
    const r = scenario('text-binary-big-v4-threads', via) as ChildResult & { code: number; printedBeforeStop: number; stderr: string };
    expect(r.code, r.stderr).toBe(0);
    expect(r.stats.dropped).toBe(0);
    check(r.flows, r);
    check(r.saved, r);
    expect(r.flows.every((f) => f.close === 'fin')).toBe(true);
    expect(r.printedBeforeStop).toBe(3);
    expect(r.stderr).toMatch(/; 3 connections\n/);
  }, 150_000);

  it('the app (3 engine threads): a file opened while it captures waits for the capture, then loads as weft flows gives it; a capture started while a file loads is refused with why', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-app-live-file-'));
    try {
      const file = join(dir, 'bulk.pcap');
      execFileSync(process.execPath, [join(ROOT, 'test', 'bench', 'gen-pcap.mjs'), '--out', file, '--conns', '800', '--profile', 'bulk', '--seed', '7'], { stdio: 'ignore' });
      const r = scenario('app-while-loading', via, 'small-mtu', file) as ChildResult & { fileWhileTraffic: string; total: number; jobs: { kind: string; state: string; error: string | null }[]; file: unknown[]; weft: unknown[] };
      expect(r.jobs.map((j) => [j.kind, j.state, j.error])).toEqual([
        ['live', 'done', null],
        ['file', 'done', null],
        ['file', 'done', null],
        ['live', 'failed', `a file is being read (${file}): wait for it to finish or cancel it, then start the capture`],
      ]);
      expect(r.total).toBe(3 + 2 * 800);
      expect(r.stats.dropped).toBe(0);
      check(r.flows, r);
      expect(r.flows.every((f) => f.close === 'fin')).toBe(true);
      expect(r.file).toHaveLength(800);
      // rows in first-packet order, weft flows in the order they end
      const sorted = (l: unknown[]) => l.map((x) => JSON.stringify(x)).sort();
      expect(sorted(r.file)).toEqual(sorted(r.weft));
      // the file waited while the capture ran
      expect(r.fileWhileTraffic).toBe('queued');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);

  it('a connection quiet for longer than the idle time is parked, not cut: one flow, client and server kept, the quiet recorded', () => {
    const r = scenario('quiet', via) as unknown as { clientPort: number; expected: { c2s: string; s2c: string; bytes: { c2s: number; s2c: number } }; flows: (Slim & { server: string; quietSec: number; anomalies: Record<string, number> })[] };
    expect(r.flows).toHaveLength(1);
    const f = r.flows[0];
    expect(f.client).toBe(`127.0.0.1:${r.clientPort}`);
    expect(f.directionInferred).toBe(false);
    expect([f.bytes, f.sha256, f.close]).toEqual([r.expected.bytes, { c2s: r.expected.c2s, s2c: r.expected.s2c }, 'fin']);
    expect(f.quietSec).toBeGreaterThan(2);
    expect(f.anomalies['resumed-after-idle']).toBe(1);
  }, 60_000);

  it('1,000 short connections', () => {
    const r = scenario('short-1000', via);
    expect(r.expected.length).toBe(1000);
    check(r.flows, r);
    check(r.saved, r);
  }, 150_000);

  for (const threads of [1, 2])
  it(`weft sniff http${threads > 1 ? ` --threads ${threads}` : ''}: the CLI with its default filter prints each request and response live, gzip bodies decoded, joining a keep-alive connection mid-way`, () => {
    const r = scenario(`sniff-http${threads > 1 ? `-threads${threads}` : ''}`, via) as unknown as { code: number; stderr: string; page: string; messages: { kind: string; summary: string; protocol: string; fields: { decodedBody?: { text: string; complete: boolean } } }[] };
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`capturing on lo \\(tcp port 80 or tcp port 8080 .*\\) via ${via}`));
    expect(r.messages.map((m) => [m.protocol, m.kind, m.summary])).toEqual([
      ['http', 'request', 'GET /one HTTP/1.1'],
      ['http', 'response', 'HTTP/1.1 200 OK (GET /one)'],
      ['http', 'request', 'GET /two?x=1 HTTP/1.1'],
      ['http', 'response', 'HTTP/1.1 200 OK (GET /two?x=1)'],
    ]);
    expect(r.messages[3].fields.decodedBody).toMatchObject({ complete: true, text: `/two?x=1\n${r.page}` });
  }, 60_000);
});

describe.runIf(root)('live capture beside tcpdump', () => {
  for (const via of ['dumpcap', 'libpcap'] as const)
  it(`via ${via}: the same packets as tcpdump, kernel timestamps as close to its as a second tcpdump is, its original lengths (64 KiB+ frames), a file tshark reads without length warnings`, () => {
    type Match = { matched: number; sameMicro: number; sameLen: number; medianDeltaNs: number; maxDeltaNs: number };
    const r = scenario('beside-tcpdump', via, 'as-is') as unknown as {
      tcpdump: { packets: number; dropped: number };
      weft: { packets: number; stats: { received: number; kernelDropped: number | null }; via: string } & Match;
      control: { packets: number } & Match;
      maxOrigLen: number;
      tshark: { status: number; warnings: number };
    };
    console.log(`beside tcpdump via ${via}: ${JSON.stringify(r)}`);
    expect(r.weft.via).toBe(via);
    expect(r.tcpdump.dropped).toBe(0);
    expect(r.weft.stats.kernelDropped).toBe(0);
    // every packet tcpdump saw, no more, no less, each with tcpdump's original length
    expect(r.weft.packets).toBe(r.tcpdump.packets);
    expect(r.weft.matched).toBe(r.weft.packets);
    expect(r.weft.sameLen).toBe(r.weft.matched);
    expect(r.maxOrigLen).toBeGreaterThan(65535); // frames bigger than cap (the old binding) could ever save
    // Each capture socket is stamped by the kernel as it is handed the packet (libpcap's "host"
    // time stamps): two tcpdumps differ by the time the first copy took. Weft's times are the
    // kernel's as well — as close to tcpdump's as the second tcpdump's are, not userspace
    // arrival times (cap's were 33 µs to 67 ms late).
    expect(r.weft.maxDeltaNs).toBeLessThan(Math.max(4 * r.control.maxDeltaNs, 200_000));
    expect(r.weft.medianDeltaNs).toBeLessThan(Math.max(4 * r.control.medianDeltaNs, 20_000));
    expect(r.tshark).toEqual({ status: 0, warnings: 0 });
  }, 120_000);
});

/**
 * The built CLI copied where an unprivileged user can read it (the checkout may be in a folder
 * only root can enter, as a clean clone in mktemp's is): out/ and bin/ are all it needs.
 */
function portableWeft(dir: string): string {
  cpSync(join(ROOT, 'out'), join(dir, 'out'), { recursive: true });
  cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
  return join(dir, 'bin', 'weft.cjs');
}

describe.runIf(root)('capture rights stay on dumpcap', () => {
  const nobody = (env: Record<string, string>, seconds: number) => {
    // weft as an unprivileged user in a namespace of its own; the traffic made by the test (as root)
    const traffic = `const net=require('net');const s=net.createServer(c=>c.resume().on('end',()=>c.end('ok'))).listen(45692,'127.0.0.1',()=>{const c=net.connect(45692,'127.0.0.1',()=>c.end('x'.repeat(100000)));c.resume().on('close',()=>s.close())})`;
    const vars = Object.entries(env).map(([k, v]) => `${k}='${v}'`).join(' ');
    const dir = mkdtempSync(join(tmpdir(), 'weft-rights-'));
    chmodSync(dir, 0o755);
    const weft = portableWeft(dir);
    // from a folder the user can read: dumpcap, refused the device, looks for a pipe of that name there
    const script = `ip link set lo up; cd "${dir}"; setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=/tmp ${vars} "${process.execPath}" "${weft}" capture -i lo -f 'tcp port 45692' --duration ${seconds} > "$OUT" 2> "$ERR" & W=$!; sleep 1; "${process.execPath}" -e "${traffic}"; wait $W; echo $? > "$RC"`;
    const files = { OUT: join(dir, 'stdout.txt'), ERR: join(dir, 'stderr.txt'), RC: join(dir, 'status.txt') };
    const r = spawnSync('unshare', ['--net', 'sh', '-c', script], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...files } });
    if (r.status !== 0) throw new Error(`namespace script failed: ${r.stderr}`);
    const got = { code: Number(readFileSync(files.RC, 'utf8')), out: readFileSync(files.OUT, 'utf8'), err: readFileSync(files.ERR, 'utf8') };
    rmSync(dir, { recursive: true, force: true });
    return got;
  };

  it('an unprivileged user captures through a dumpcap that holds the rights, and is told how to get them when it does not', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-dumpcap-'));
    chmodSync(dir, 0o755);
    const withRights = join(dir, 'dumpcap');
    const without = join(dir, 'dumpcap-plain');
    copyFileSync('/usr/bin/dumpcap', withRights);
    copyFileSync('/usr/bin/dumpcap', without);
    // as Debian's wireshark-common does for the wireshark group
    execFileSync('setcap', ['cap_net_raw,cap_net_admin+eip', withRights]);
    try {
      const ok = nobody({ WEFT_DUMPCAP: withRights }, 2);
      expect(ok.err).toMatch(/capturing on lo \(tcp port 45692\) via dumpcap/);
      expect(ok.code).toBe(0);
      expect(ok.out).toMatch(/127\.0\.0\.1:45692 .* 100000 +2 +0 fin/);
      const refused = nobody({ WEFT_DUMPCAP: without }, 1);
      expect(refused.code).toBe(2);
      expect(refused.err).toMatch(/cannot capture on lo: (You do not have permission to capture on device "lo"|.*Permission denied)/);
      expect(refused.err).toMatch(/Fix: add yourself to the 'wireshark' group/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('the app too: weft serve run by an unprivileged user starts a capture through dumpcap, its flows in the table', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-app-rights-'));
    chmodSync(dir, 0o777);
    const dumpcap = join(dir, 'dumpcap');
    copyFileSync('/usr/bin/dumpcap', dumpcap);
    execFileSync('setcap', ['cap_net_raw,cap_net_admin+eip', dumpcap]);
    // the page's part, as the browser would do it: the API with the URL's token
    const driver = join(dir, 'driver.cjs');
    writeFileSync(
      driver,
      `const fs = require('fs'), net = require('net');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
(async () => {
  let url = null;
  for (let i = 0; i < 100 && !url; i++) { await sleep(100); url = (/(http:\\/\\/127\\.0\\.0\\.1:\\d+)\\/\\?token=(\\w+)/.exec(fs.readFileSync(process.argv[2], 'utf8')) || null); }
  if (!url) throw new Error('weft serve did not start');
  const call = async (ch, body) => (await fetch(url[1] + '/api/' + ch, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer ' + url[2] }, body: JSON.stringify(body) })).json();
  const job = await call('startCapture', { device: 'lo', filter: 'tcp port 45693' });
  await sleep(1500);
  const srv = net.createServer((c) => c.resume().on('end', () => c.end('ok'))).listen(45693, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  await new Promise((r) => { const c = net.connect(45693, '127.0.0.1', () => c.end('x'.repeat(50000))); c.resume().on('close', r); });
  srv.close();
  await sleep(800);
  await call('cancelJob', { id: job.value.id });
  await sleep(800);
  const state = await call('getState', {});
  const flows = await call('queryFlows', { offset: 0, limit: 10 });
  process.stdout.write(JSON.stringify({ job, state: state.value.jobs, flows: flows.value.rows.map((r) => ({ client: r.client, server: r.server, bytes: r.bytes, state: r.state })) }));
})().catch((e) => { process.stdout.write(JSON.stringify({ error: String(e) })); });
`,
    );
    const weft = portableWeft(dir);
    const script = `ip link set lo up; cd "${dir}"; setpriv --reuid=65534 --regid=65534 --clear-groups env HOME=${dir} TMPDIR=${dir} WEFT_DUMPCAP=${dumpcap} "${process.execPath}" "${weft}" serve --port 0 > ${dir}/serve.out 2> ${dir}/serve.err & S=$!; "${process.execPath}" ${driver} ${dir}/serve.out; kill -INT $S; wait $S`;
    try {
      const r = spawnSync('unshare', ['--net', 'sh', '-c', script], { encoding: 'utf8', timeout: 60_000 });
      const got = JSON.parse(r.stdout) as { error?: string; job: { ok: boolean }; state: { kind: string; state: string; error: string | null; live?: { via: string; kernelDropped: number | null } }[]; flows: { client: string; server: string; bytes: { c2s: number; s2c: number }; state: string }[] };
      expect(got.error, readFileSync(join(dir, 'serve.err'), 'utf8')).toBeUndefined();
      expect(got.job.ok).toBe(true);
      const live = got.state.find((j) => j.kind === 'live')!;
      expect(live).toMatchObject({ state: 'done', error: null, live: { via: 'dumpcap', kernelDropped: 0 } });
      expect(got.flows).toHaveLength(1);
      expect(got.flows[0]).toMatchObject({ server: '127.0.0.1:45693', bytes: { c2s: 50000, s2c: 2 }, state: 'fin' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});

describe.runIf(root)('live capture that goes wrong', () => {
  it('dumpcap killed mid-capture: weft capture says why, exits 1, keeps what it had (flows printed, file readable)', () => {
    const r = scenario('helper-killed', 'dumpcap') as unknown as { code: number; stderr: string; clientPort: number; printed: string[]; saved: Slim[] };
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the capture ended by itself: dumpcap stopped \(killed by SIGKILL\)/);
    expect(r.printed).toEqual([`127.0.0.1:${r.clientPort}`]);
    expect(r.saved.map((f) => [f.client, f.bytes])).toEqual([[`127.0.0.1:${r.clientPort}`, { c2s: 22, s2c: 25 }]]);
  }, 60_000);

  it('the in-process binding opened and closed 150 times with packets flowing, some closed from inside their own callback, collected between: no crash', () => {
    const r = scenario('binding-cycles', 'libpcap') as unknown as { cycles: number; packets: number; closedInside: number };
    expect(r.cycles).toBe(150);
    expect(r.closedInside).toBe(15);
    expect(r.packets).toBeGreaterThan(150);
  }, 120_000);
});
