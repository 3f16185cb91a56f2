/**
 * Runs live-capture scenarios on `lo` and prints what came out, as JSON. Started by
 * live-capture.test.ts inside a private network namespace (unshare --net), the way of capturing
 * chosen by WEFT_CAPTURE_VIA (dumpcap or libpcap in-process).
 *
 *   node out/cli/live-child.cjs SCENARIO     (checks | text-binary-big-v4 | text-binary-big-v6 | short-1000 | sniff-http | quiet | beside-tcpdump | app-while-loading FILE)
 *
 * Capture runs only here, in a child process in the namespace, never in the test runner.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { Agent, createServer as createHttpServer, get as httpGet } from 'node:http';
import { createServer, connect, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { gzipSync } from 'node:zlib';
import { FlowPipeline, runFlows, type Flow } from '../../main/service/pipeline/flow-recorder';
import { PcapngFileWriter } from '../../main/sources/capture-file-writer';
import { readCaptureFile } from '../../main/sources/capture-source';
import type { LiveCaptureError } from '../../main/sources/live-source';
import { checkLiveFilter, listLiveDevices, openLive } from '../../main/sources/live';
import { ChildProcessHost } from '../../main/service/hosts/child-host';
import { Session } from '../../main/service/session/session';
import type { FlowRow } from '../../main/ipc/contract';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function server(host: string, respond: (req: Buffer) => Buffer): Promise<Server> {
  const srv = createServer((s) => {
    const parts: Buffer[] = [];
    s.on('data', (d) => parts.push(d));
    s.on('end', () => s.end(respond(Buffer.concat(parts))));
  });
  await new Promise<void>((r) => srv.listen(0, host, () => r()));
  return srv;
}

function exchange(host: string, port: number, request: Buffer): Promise<{ localPort: number; response: Buffer }> {
  return new Promise((resolve, reject) => {
    const c = connect(port, host);
    const parts: Buffer[] = [];
    let localPort = 0;
    c.on('connect', () => {
      localPort = c.localPort!;
      c.end(request);
    });
    c.on('data', (d) => parts.push(d));
    c.on('close', () => resolve({ localPort, response: Buffer.concat(parts) }));
    c.on('error', reject);
  });
}

interface Expected {
  clientPort: number;
  request: string;
  response: string;
  requestBytes: number;
  responseBytes: number;
}

const slim = (f: Flow) => ({ client: f.client, server: f.server, protocol: f.protocol, bytes: f.bytes, sha256: f.sha256, gaps: f.gaps, close: f.close, directionInferred: f.directionInferred });

/**
 * `weft sniff http -i lo --json` as a user runs it (the built CLI, its default BPF filter) while
 * a real node HTTP server answers gzip over one keep-alive connection; the first exchange happens
 * before the capture starts, so the sniffer joins mid-conversation.
 */
async function sniffHttp(threads: number): Promise<unknown> {
  const page = Buffer.from('<p>hello from weft, gzip over keep-alive</p>\n'.repeat(300));
  const srv = createHttpServer((req, res) => {
    res.setHeader('Content-Type', 'text/html');
    res.setHeader('Content-Encoding', 'gzip');
    res.end(gzipSync(Buffer.concat([Buffer.from(`${req.url}\n`), page])));
  });
  await new Promise<void>((r) => srv.listen(8080, '127.0.0.1', () => r()));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const get = (path: string) =>
    new Promise<void>((resolve, reject) =>
      httpGet({ host: '127.0.0.1', port: 8080, path, agent, headers: { 'Accept-Encoding': 'gzip' } }, (res) => res.resume().on('end', resolve)).on('error', reject),
    );
  await get('/before');
  const child = spawn(process.execPath, [join(__dirname, 'weft.cjs'), 'sniff', 'http', '-i', 'lo', '--json', '--duration', '3', '--threads', String(threads)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      if (stderr.includes('capturing on')) resolve();
    });
    child.on('exit', () => reject(new Error(`weft sniff exited: ${stderr}`)));
  });
  await sleep(200);
  await get('/one');
  await get('/two?x=1');
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  agent.destroy();
  srv.close();
  return { code, stderr, page: page.toString(), messages: stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) };
}

/**
 * One connection, quiet for 2.5 s between two exchanges with the pipeline's idle time at 1 s (its
 * wall clock ticking): after the silence the server speaks first. The connection must come out
 * once, resumed, with client and server as they were.
 */
async function quiet(): Promise<unknown> {
  const host = '127.0.0.1';
  let peer: import('node:net').Socket | null = null;
  const srv = createServer((s) => {
    peer = s;
    s.on('data', () => {});
  });
  await new Promise<void>((r) => srv.listen(0, host, () => r()));
  const port = (srv.address() as AddressInfo).port;
  const flows: Flow[] = [];
  const pipe = new FlowPipeline((f) => flows.push(f), { clock: 'wall', idleSec: 1 });
  const lc = openLive({ device: 'lo', filter: `tcp port ${port}` });
  await lc.start({ packet: (p) => pipe.packet(p) });
  const ticker = setInterval(() => pipe.tick(), 200);
  await sleep(100);
  const c = connect(port, host);
  await new Promise<void>((r) => c.on('connect', () => r()));
  const clientPort = c.localPort;
  c.on('data', () => {});
  const parts = { c2s: [Buffer.from('hello before the silence\n')], s2c: [Buffer.from('welcome\n'), Buffer.from('the server speaks first after it\n')] };
  c.write(parts.c2s[0]);
  await sleep(100);
  peer!.write(parts.s2c[0]);
  await sleep(2500); // longer than the idle time: the connection is parked
  peer!.write(parts.s2c[1]);
  await sleep(100);
  const after = Buffer.from('and the client answers\n');
  parts.c2s.push(after);
  c.write(after);
  await sleep(100);
  c.end();
  peer!.end();
  await sleep(300);
  clearInterval(ticker);
  await lc.stop();
  pipe.end();
  srv.close();
  const want = { c2s: Buffer.concat(parts.c2s), s2c: Buffer.concat(parts.s2c) };
  return {
    clientPort,
    expected: { c2s: sha(want.c2s), s2c: sha(want.s2c), bytes: { c2s: want.c2s.length, s2c: want.s2c.length } },
    flows: flows.map((f) => ({ ...slim(f), quietSec: f.quietSec, anomalies: f.anomalies })),
  };
}

/** Every packet of a capture file: its bytes' digest, time (ns since the epoch) and original length. */
async function framesOf(file: string): Promise<{ key: string; ns: bigint; origLen: number }[]> {
  const out: { key: string; ns: bigint; origLen: number }[] = [];
  await readCaptureFile(file, {
    packet(p) {
      out.push({ key: sha(Buffer.from(p.buf.subarray(p.offset, p.offset + p.capLen))), ns: BigInt(p.tsSec) * 1_000_000_000n + BigInt(p.tsNsec), origLen: p.origLen });
    },
  });
  return out;
}

/**
 * tcpdump and Weft capturing the same traffic on the same loopback at once — 64 KiB+ frames
 * (the namespace's loopback keeps its 65,536 MTU and its offloads), a 4 MB transfer and short
 * exchanges — and each saving a file: the packets are matched by their bytes and their times
 * and original lengths compared. Weft's file is also read back by tshark for length warnings.
 */
async function besideTcpdump(): Promise<unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-beside-'));
  const host = '127.0.0.1';
  const srv = await server(host, (req) => Buffer.concat([Buffer.from('got '), Buffer.from(String(req.length))]));
  const port = (srv.address() as AddressInfo).port;
  const theirs = join(dir, 'tcpdump.pcap');
  const control = join(dir, 'tcpdump-2.pcap');
  const ours = join(dir, 'weft.pcapng');
  // a second tcpdump is the control: how closely two captures of the same packets agree at all
  const start = async (file: string) => {
    const t = spawn('tcpdump', ['-i', 'lo', '-s', '262144', '-B', '65536', '--time-stamp-precision=nano', '--immediate-mode', '-w', file, `tcp port ${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    const said = { text: '' };
    t.stderr.on('data', (d) => (said.text += d));
    await new Promise<void>((resolve, reject) => {
      t.stderr.on('data', () => said.text.includes('listening on') && resolve());
      t.on('exit', (c) => reject(new Error(`tcpdump exited ${c}: ${said.text}`)));
    });
    return { t, said };
  };
  const [first, second] = [await start(theirs), await start(control)];
  const lc = openLive({ device: 'lo', filter: `tcp port ${port}` });
  let writer: PcapngFileWriter | null = null;
  await lc.start({ packet: (p) => writer?.packet(p.tsSec, p.tsNsec, p.buf.subarray(p.offset, p.offset + p.capLen), p.origLen) });
  writer = new PcapngFileWriter(ours, { linkType: lc.linkType, snapLen: 262144, interfaceName: 'lo' });
  await sleep(200);
  // large writes: the kernel hands loopback frames of up to 64 KiB+ (GSO) when the window allows; three give it the chance
  for (let i = 0; i < 3; i++) await exchange(host, port, randomBytes(4 * 1024 * 1024));
  for (let i = 0; i < 20; i++) await exchange(host, port, Buffer.from(`short ${i}`));
  await sleep(500);
  await lc.stop();
  writer.close({ received: lc.stats.received, kernelDropped: lc.stats.kernelDropped });
  for (const x of [first, second]) {
    x.t.removeAllListeners('exit');
    x.t.kill('SIGINT');
  }
  await Promise.all([first, second].map((x) => new Promise((r) => (x.t.exitCode !== null ? r(null) : x.t.once('exit', r)))));
  const tcpdumpErr = first.said.text;
  srv.close();
  const [a, b, c] = [await framesOf(theirs), await framesOf(ours), await framesOf(control)];
  /** Packets of `other` matched to `base` by their bytes: how many, how many at the same µs, same original length, and |Δt| in ns. */
  const compare = (other: typeof a) => {
    const byKey = new Map<string, { ns: bigint; origLen: number }[]>();
    for (const f of a) byKey.set(f.key, [...(byKey.get(f.key) ?? []), f]);
    let matched = 0;
    let sameMicro = 0;
    let sameLen = 0;
    const deltasNs: number[] = [];
    for (const f of other) {
      const g = byKey.get(f.key)?.shift();
      if (!g) continue;
      matched++;
      if (g.ns / 1000n === f.ns / 1000n) sameMicro++;
      if (g.origLen === f.origLen) sameLen++;
      deltasNs.push(Math.abs(Number(f.ns - g.ns)));
    }
    deltasNs.sort((x, y) => x - y);
    return { matched, sameMicro, sameLen, medianDeltaNs: deltasNs[deltasNs.length >> 1] ?? 0, maxDeltaNs: deltasNs[deltasNs.length - 1] ?? 0 };
  };
  const mine = compare(b);
  const theirsToo = compare(c);
  const tshark = spawnSync('tshark', ['-r', ours, '-V'], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const warnings = (tshark.stdout.match(/exceeds packet length|Malformed Packet/g) ?? []).length;
  const result = {
    tcpdump: { packets: a.length, dropped: Number(/(\d+) packets? dropped by kernel/.exec(tcpdumpErr)?.[1] ?? -1) },
    weft: { packets: b.length, stats: lc.stats, via: lc.via, ...mine },
    control: { packets: c.length, ...theirsToo },
    maxOrigLen: Math.max(...b.map((f) => f.origLen)),
    tshark: { status: tshark.status, warnings },
  };
  rmSync(dir, { recursive: true, force: true });
  return result;
}

/** `weft capture -i lo ARGS…` started, once it says it is capturing; what it prints is gathered in `said`. */
async function startCapture(args: string[]): Promise<{ child: ChildProcessWithoutNullStreams; said: { stdout: string; stderr: string } }> {
  const child = spawn(process.execPath, [join(__dirname, 'weft.cjs'), 'capture', '-i', 'lo', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const said = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (said.stdout += d));
  child.stderr.on('data', (d) => (said.stderr += d));
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', () => said.stderr.includes('capturing on') && resolve());
    child.on('exit', () => reject(new Error(`weft capture exited: ${said.stderr}`)));
  });
  child.removeAllListeners('exit');
  return { child, said };
}

/**
 * `weft capture --via dumpcap -w FILE` whose dumpcap is killed mid-capture: the CLI says the
 * capture ended by itself and why, exits 1, and keeps what was captured before (flows printed,
 * the file readable).
 */
async function helperKilled(): Promise<unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-killed-'));
  const host = '127.0.0.1';
  const srv = await server(host, (req) => Buffer.concat([Buffer.from('re:'), req]));
  const port = (srv.address() as AddressInfo).port;
  const file = join(dir, 'saved.pcapng');
  const { child, said } = await startCapture(['-f', `tcp port ${port}`, '--via', 'dumpcap', '-w', file, '--json']);
  await sleep(300);
  const x = await exchange(host, port, Buffer.from('before the helper died'));
  await sleep(500);
  const dumpcap = Number(spawnSync('pgrep', ['-P', String(child.pid), 'dumpcap'], { encoding: 'utf8' }).stdout.trim());
  process.kill(dumpcap, 'SIGKILL');
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  srv.close();
  const saved: Flow[] = [];
  await runFlows([file], (f) => saved.push(f));
  rmSync(dir, { recursive: true, force: true });
  return { code, stderr: said.stderr, clientPort: x.localPort, printed: said.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).client), saved: saved.map(slim) };
}

/**
 * The in-process binding opened and closed 150 times while packets flow, every tenth closed from
 * inside its own batch callback, with full garbage collections between: cap crashed its process
 * when a closed handle was collected; this must not.
 */
async function bindingCycles(): Promise<unknown> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const host = '127.0.0.1';
  const srv = await server(host, (req) => req);
  const port = (srv.address() as AddressInfo).port;
  let flowing = true;
  const traffic = (async () => {
    while (flowing) await exchange(host, port, randomBytes(2000));
  })();
  let packets = 0;
  let closedInside = 0;
  for (let i = 0; i < 150; i++) {
    const lc = openLive({ device: 'lo', filter: `tcp port ${port}`, bufferSize: 1 << 20 }, 'libpcap') as import('../../main/sources/live-source').LiveCapture;
    const inside = i % 10 === 0;
    await lc.start({
      packet() {
        packets++;
        if (inside && lc.running) {
          lc.close();
          closedInside++;
        }
      },
    });
    await sleep(inside ? 150 : 5);
    await lc.stop();
    if (i % 25 === 0) gc();
  }
  flowing = false;
  await traffic;
  srv.close();
  gc();
  await sleep(200);
  gc();
  return { cycles: 150, packets, closedInside };
}

/** `weft capture --threads 3 -w FILE --json` while `traffic` runs: the flows it printed, and the file's. */
async function captureWithThreads(dir: string, port: number, srv: Server, traffic: (port: number) => Promise<void>, expected: Expected[]): Promise<unknown> {
  const file = join(dir, 'saved.pcapng');
  const { child, said } = await startCapture(['-f', `tcp port ${port}`, '--threads', '3', '-w', file, '--json']);
  await sleep(200);
  await traffic(port);
  // flows print as they complete, before the capture stops: a FIN-closed one once its 2 s for
  // packets after the close are over, which the next wall-clock tick (each second) tells
  await sleep(3500);
  const printedBeforeStop = said.stdout.trim().split('\n').filter(Boolean).length;
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  srv.close();
  const saved: Flow[] = [];
  await runFlows([file], (f) => saved.push(f));
  rmSync(dir, { recursive: true, force: true });
  const flows = said.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Flow);
  return { code, stderr: said.stderr, printedBeforeStop, stats: { dropped: Number(/(\d+) dropped by the kernel/.exec(said.stderr)?.[1] ?? -1) }, expected, flows: flows.map(slim), saved: saved.map(slim) };
}

/**
 * The app (a Session over its engine process, 3 engine threads) capturing on lo, `file` opened
 * meanwhile (it waits for the capture to stop: one timeline), then a capture started while the
 * file is read a second time (refused, with why). Returns the captured connections' rows, the
 * file's first rows and the file's flows as `weft flows` gives them, and the jobs.
 */
async function appWhileLoading(file: string): Promise<unknown> {
  const host = '127.0.0.1';
  const pairs: [Buffer, Buffer][] = [
    [Buffer.from('GET /hello HTTP/1.1\r\nHost: weft\r\n\r\n'), Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')],
    [randomBytes(200_000), randomBytes(50_000)],
    [randomBytes(10 * 1024 * 1024), Buffer.from('thanks')],
  ];
  const srv = await server(host, (req) => pairs.find(([q]) => q.equals(req))?.[1] ?? Buffer.from('?'));
  const port = (srv.address() as AddressInfo).port;
  const spool = mkdtempSync(join(tmpdir(), 'weft-app-live-'));
  const s = new Session(new ChildProcessHost({ spoolParent: spool, threads: 3 }));
  const ok = <T,>(r: { ok: true; value: T } | { ok: false; error: string }): T => {
    if (!r.ok) throw new Error(r.error);
    return r.value;
  };
  try {
    const live = ok(await s.startCapture({ device: 'lo', filter: `tcp port ${port}` }));
    await sleep(300);
    const loading = ok(await s.openCapture({ path: file }));
    const expected: { clientPort: number; request: string; response: string; requestBytes: number; responseBytes: number }[] = [];
    for (const [req, res] of pairs) {
      const x = await exchange(host, port, req);
      if (!x.response.equals(res)) throw new Error('the server answered something else');
      expected.push({ clientPort: x.localPort, request: sha(req), response: sha(res), requestBytes: req.length, responseBytes: res.length });
    }
    const state = ok(await s.getState());
    const fileWhileTraffic = state.jobs.find((j) => j.id === loading.id)!.state;
    await sleep(500);
    ok(await s.cancelJob({ id: live.id }));
    await s.whenIdle();
    const rows: FlowRow[] = ok(await s.queryFlows({ offset: 0, limit: 1e6 })).rows;
    // the file again, and a capture started while it is read
    const again = ok(await s.openCapture({ path: file }));
    await until(async () => ok(await s.getState()).jobs.find((j) => j.id === again.id)!.state === 'running');
    ok(await s.startCapture({ device: 'lo', filter: `tcp port ${port}` }));
    await s.whenIdle();
    const end = ok(await s.getState());
    const asSlim = (r: FlowRow) => ({ client: r.client, server: r.server, protocol: r.protocol, bytes: r.bytes, sha256: r.sha256, gaps: r.gaps, close: r.state, directionInferred: r.directionInferred });
    const captured = rows.filter((r) => r.server.endsWith(`:${port}`));
    const fromFile = rows.filter((r) => !r.server.endsWith(`:${port}`));
    const byWeft: Flow[] = [];
    await runFlows([file], (f) => byWeft.push(f));
    return {
      fileWhileTraffic,
      total: ok(await s.queryFlows({ offset: 0, limit: 1 })).total,
      jobs: end.jobs.map((j) => ({ kind: j.kind, state: j.state, error: j.error })),
      drops: end.stats.drops,
      stats: { received: 0, processed: 0, dropped: end.stats.drops },
      buffers: 0,
      expected,
      flows: captured.map(asSlim),
      saved: captured.map(asSlim),
      file: fromFile.map((r) => ({ client: r.client, server: r.server, sha256: r.sha256, bytes: r.bytes })),
      weft: byWeft.map((f) => ({ client: f.client, server: f.server, sha256: f.sha256, bytes: f.bytes })),
    };
  } finally {
    await s.close();
    srv.close();
    rmSync(spool, { recursive: true, force: true });
  }
}

/** Resolves once `cond` holds (polled every 10 ms, at most 10 s). */
async function until(cond: () => Promise<boolean>): Promise<void> {
  for (const t0 = Date.now(); !(await cond()); await sleep(10)) if (Date.now() - t0 > 10_000) throw new Error('waited 10 s in vain');
}

async function run(scenario: string): Promise<unknown> {
  if (scenario === 'app-while-loading') return appWhileLoading(process.argv[3]);
  if (scenario.startsWith('sniff-http')) return sniffHttp(Number(/-threads(\d+)$/.exec(scenario)?.[1] ?? 1));
  if (scenario === 'helper-killed') return helperKilled();
  if (scenario === 'binding-cycles') return bindingCycles();
  if (scenario === 'beside-tcpdump') return besideTcpdump();
  if (scenario === 'quiet') return quiet();
  if (scenario === 'checks') {
    let noDevice = '';
    try {
      await openLive({ device: 'nosuchdev0' }).start({ packet() {} });
    } catch (e) {
      noDevice = `${(e as LiveCaptureError).kind}: ${(e as Error).message}`;
    }
    return {
      devices: listLiveDevices(),
      goodFilter: checkLiveFilter('lo', 'tcp port 80'),
      badFilter: checkLiveFilter('lo', 'tcp port nonsense'),
      noDevice,
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'weft-live-'));
  // NAME-threads: the same traffic captured by `weft capture --threads 3` (the engine threads' ring fed live)
  const cli = scenario.endsWith('-threads');
  if (cli) scenario = scenario.slice(0, -'-threads'.length);
  const v6 = scenario.endsWith('-v6');
  const host = v6 ? '::1' : '127.0.0.1';
  const expected: Expected[] = [];
  let srv: Server;
  let traffic: (port: number) => Promise<void>;
  if (scenario.startsWith('text-binary-big')) {
    const pairs: [Buffer, Buffer][] = [
      [Buffer.from('GET /hello HTTP/1.1\r\nHost: weft\r\n\r\n'), Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')],
      [randomBytes(200_000), randomBytes(50_000)],
      [randomBytes(10 * 1024 * 1024), Buffer.from('thanks')],
    ];
    srv = await server(host, (req) => pairs.find(([q]) => q.equals(req))?.[1] ?? Buffer.from('?'));
    traffic = async (port) => {
      for (const [req, res] of pairs) {
        const x = await exchange(host, port, req);
        if (!x.response.equals(res)) throw new Error('the server answered something else');
        expected.push({ clientPort: x.localPort, request: sha(req), response: sha(res), requestBytes: req.length, responseBytes: res.length });
      }
    };
  } else if (scenario === 'short-1000') {
    srv = await server(host, (req) => Buffer.concat([Buffer.from('re:'), req]));
    traffic = async (port) => {
      for (let batch = 0; batch < 20; batch++)
        await Promise.all(
          Array.from({ length: 50 }, async (_, i) => {
            const req = Buffer.from(`request ${batch}-${i} ${randomBytes(8).toString('hex')}`);
            const res = Buffer.concat([Buffer.from('re:'), req]);
            const x = await exchange(host, port, req);
            expected.push({ clientPort: x.localPort, request: sha(req), response: sha(res), requestBytes: req.length, responseBytes: res.length });
          }),
        );
    };
  } else throw new Error(`unknown scenario ${scenario}`);

  const port = (srv.address() as AddressInfo).port;
  if (cli) return captureWithThreads(dir, port, srv, traffic, expected);
  const flows: Flow[] = [];
  const pipe = new FlowPipeline((f) => flows.push(f), { clock: 'wall' });
  const lc = openLive({ device: 'lo', filter: `tcp port ${port}` });
  const file = join(dir, 'saved.pcapng');
  let writer: PcapngFileWriter | null = null;
  let buffers = 0;
  await lc.start({
    packet(p) {
      if (Buffer.isBuffer(p.buf)) buffers++;
      writer?.packet(p.tsSec, p.tsNsec, p.buf.subarray(p.offset, p.offset + p.capLen), p.origLen);
      pipe.packet(p);
    },
  });
  writer = new PcapngFileWriter(file, { linkType: lc.linkType, interfaceName: 'lo' });
  await sleep(100);
  await traffic(port);
  let last = -1;
  const t0 = Date.now();
  while (Date.now() - t0 < 5000 && lc.stats.received !== last) {
    last = lc.stats.received;
    await sleep(250);
  }
  await lc.stop();
  pipe.end();
  writer.close();
  srv.close();
  const saved: Flow[] = [];
  await runFlows([file], (f) => saved.push(f));
  rmSync(dir, { recursive: true, force: true });
  return { scenario, stats: lc.stats, buffers, expected, flows: flows.map(slim), saved: saved.map(slim) };
}

run(process.argv[2]).then(
  // exit explicitly once the output is written: see the note on cap above
  (r) => process.stdout.write(JSON.stringify(r) + '\n', () => process.exit(0)),
  (e) => {
    process.stderr.write(`live-child: ${(e as Error).stack ?? e}\n`);
    process.exitCode = 1;
  },
);
