/**
 * weft serve against hostile clients, over real sockets (issue 14): a broken WebSocket frame, a
 * 150 MB message, foreign Origins and Hosts, cross-origin text/plain POSTs, oversized bodies,
 * 20,000 idle sockets, FIFOs given as captures, a flood of device checks, a client that never
 * reads its deltas, and start-up errors. After each, the server still answers.
 */
import { execFile, spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { hostAllowed, outsideRoot, startServer, type RunningServer } from '../../main/server/serve';
import { ChildProcessHost } from '../../main/service/hosts/child-host';
import { Session } from '../../main/service/session/session';
import { REAL } from '../helpers/fixtures';

let srv: RunningServer;
let session: Session;
const RENDERER = join(__dirname, '..', '..', 'out', 'renderer');
const WEFT = join(__dirname, '..', '..', 'bin', 'weft.cjs');
const dir = mkdtempSync(join(tmpdir(), 'weft-serve-hostile-'));

beforeAll(async () => {
  session = new Session(new ChildProcessHost());
  srv = await startServer({ session, rendererDir: RENDERER, port: 0, slowClientMs: 1500 });
});
afterAll(async () => {
  await srv.close();
  await session.close();
  rmSync(dir, { recursive: true, force: true });
});

const base = () => `http://127.0.0.1:${srv.port}`;
const auth = () => ({ authorization: `Bearer ${srv.token}` });
const post = (path: string, body: string, headers: Record<string, string> = {}) => fetch(base() + path, { method: 'POST', body, headers: { 'content-type': 'application/json', ...auth(), ...headers } });
/** The server still answers a channel call. */
const alive = async () => (await (await post('/api/getState', '{}')).json()).ok === true;

/** A raw socket that has done the WebSocket handshake (with the token), for frames ws would not send. */
async function rawWebSocket(): Promise<Socket> {
  const s = connect(srv.port, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  s.write(
    `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${srv.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: weft, weft-token.${srv.token}\r\n\r\n`,
  );
  const head = await new Promise<string>((r) => s.once('data', (d) => r(String(d))));
  expect(head).toMatch(/^HTTP\/1.1 101/);
  return s;
}
const closed = (s: Socket) => new Promise<void>((r) => (s.destroyed ? r() : s.once('close', () => r())));

describe('weft serve against hostile clients', () => {
  it('a masked text frame of invalid UTF-8 closes that socket, not the server', async () => {
    const s = await rawWebSocket();
    // FIN + text, masked, 2 bytes of payload: 0xff 0xfe is not UTF-8
    const mask = [1, 2, 3, 4];
    s.write(Buffer.from([0x81, 0x82, ...mask, 0xff ^ mask[0], 0xfe ^ mask[1]]));
    await closed(s);
    expect(await alive()).toBe(true);
  });

  it('a 150 MB message is refused at its header: the socket closes, the server keeps its memory', async () => {
    const before = process.memoryUsage().rss;
    const s = await rawWebSocket();
    // FIN + binary, masked, a 64-bit length of 150,000,000, then the start of the payload
    const len = Buffer.alloc(8);
    len.writeBigUInt64BE(150_000_000n);
    s.write(Buffer.concat([Buffer.from([0x82, 0xff]), len, Buffer.from([1, 2, 3, 4]), Buffer.alloc(1 << 20)]));
    await closed(s);
    expect(await alive()).toBe(true);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 << 20);
  });

  it('a WebSocket or a POST from a foreign Origin is refused; the page’s own Origin is not', async () => {
    await expect(
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/ws`, ['weft', `weft-token.${srv.token}`], { origin: 'http://evil.example' });
        ws.on('open', () => resolve('open'));
        ws.on('error', reject);
      }),
    ).rejects.toThrow(/403/);
    const foreign = await post('/api/getState', '{}', { origin: 'http://evil.example' });
    expect(foreign.status).toBe(403);
    const own = await post('/api/getState', '{}', { origin: base() });
    expect(own.status).toBe(200);
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/ws`, ['weft', `weft-token.${srv.token}`], { origin: base() });
    await new Promise((r, j) => (ws.on('open', r), ws.on('error', j)));
    expect(ws.protocol).toBe('weft');
    ws.close();
  });

  it('a Host that is a DNS name (rebinding) or another port is refused; IP addresses and localhost are not', async () => {
    const get = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const s = connect(srv.port, '127.0.0.1', () => s.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
        let got = '';
        s.on('data', (d) => (got += d));
        s.on('end', () => resolve(Number(got.split(' ')[1])));
        s.on('error', reject);
      });
    expect(await get(`evil.example:${srv.port}`)).toBe(421);
    expect(await get(`127.0.0.1:${srv.port + 1}`)).toBe(421);
    expect(await get(`127.0.0.1:${srv.port}`)).toBe(200);
    expect(await get(`localhost:${srv.port}`)).toBe(200);
    expect(hostAllowed(`[::1]:${srv.port}`, srv.port)).toBe(true);
    expect(hostAllowed(`192.168.1.5:${srv.port}`, srv.port)).toBe(true);
    expect(hostAllowed(undefined, srv.port)).toBe(false);
  });

  it('a cross-origin “simple” text/plain POST is refused; bodies are JSON unless the token is a header', async () => {
    // what a page elsewhere can send without asking first: text/plain, the token in the address
    const r = await fetch(`${base()}/api/getState?token=${srv.token}`, { method: 'POST', body: '{}', headers: { 'content-type': 'text/plain' } });
    expect(r.status).toBe(415);
    expect((await r.json()).error).toMatch(/application\/json/);
    // curl -d with the Authorization header (form-urlencoded by default), as the classic interface is used
    const classic = await post('/pcap', JSON.stringify({ path: join(REAL, 'zeek-http-get.pcap') }), { 'content-type': 'application/x-www-form-urlencoded' });
    expect(classic.status).toBe(202);
    const u = await fetch(base() + '/upload?name=a.pcap', { method: 'POST', body: 'x', headers: { ...auth(), 'content-type': 'text/plain' } });
    expect(u.status).toBe(415);
  });

  it('a body over 1 MiB gets 413 (said by Content-Length, or found while reading), not a reset', async () => {
    const big = JSON.stringify({ path: 'x'.repeat(2 << 20) });
    const r = await post('/pcap', big);
    expect(r.status).toBe(413);
    expect((await r.json()).error).toMatch(/larger than 1048576 bytes/);
    // no Content-Length: chunked, read until it is too much
    const status = await new Promise<number>((resolve, reject) => {
      const s = connect(srv.port, '127.0.0.1', () => {
        s.write(`POST /pcap HTTP/1.1\r\nHost: 127.0.0.1:${srv.port}\r\nAuthorization: Bearer ${srv.token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
        const chunk = 'y'.repeat(64 << 10);
        for (let i = 0; i < 24; i++) s.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
      });
      let got = '';
      s.on('data', (d) => {
        got += d;
        if (got.includes('\r\n')) {
          resolve(Number(got.split(' ')[1]));
          s.destroy();
        }
      });
      s.on('error', reject);
    });
    expect(status).toBe(413);
    expect(await alive()).toBe(true);
  });

  it('20,000 idle sockets do not lock anyone out', async () => {
    // two helper processes hold 10,000 sockets each (one process may not have 20,000 open files)
    const holder = `const net=require('net');let n=0;const all=[];for(let i=0;i<10000;i++){const s=net.connect(${srv.port},'127.0.0.1');s.on('error',()=>{});s.on('connect',()=>{if(++n===10000)console.log('held')});all.push(s)}setTimeout(()=>{},60000)`;
    const helpers = [0, 1].map(() => spawn(process.execPath, ['-e', holder], { stdio: ['ignore', 'pipe', 'inherit'] }));
    try {
      await Promise.all(helpers.map((h) => new Promise((r) => h.stdout!.once('data', r))));
      const t0 = Date.now();
      expect(await alive()).toBe(true);
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      for (const h of helpers) h.kill('SIGKILL');
    }
    expect(await alive()).toBe(true);
  }, 60_000);

  it('FIFOs given as captures are refused at once, and opening goes on working', async () => {
    const fifo = join(dir, 'capture.fifo');
    execFileSync('mkfifo', [fifo]);
    const t0 = Date.now();
    // more than libuv's four threads: a blocking open() of each would hang every later open
    const answers = await Promise.all([1, 2, 3, 4, 5, 6].map(() => post('/pcap', JSON.stringify({ path: fifo }))));
    for (const r of answers) {
      expect(r.status).toBe(400);
      expect((await r.json()).error).toMatch(/not a regular file/);
    }
    const ok = await post('/pcap', JSON.stringify({ path: join(REAL, 'zeek-http-get.pcap') }));
    expect(ok.status).toBe(202);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('device checks are run one at a time, a flood of them refused past eight waiting', async () => {
    // 60 at once: one runs, eight wait, the rest are refused (a few more are taken when a check
    // ends before the last requests arrive, as on a loaded machine)
    const answers = await Promise.all(Array.from({ length: 60 }, () => post('/api/checkFilter', JSON.stringify({ device: 'lo', filter: 'tcp port 1' })).then((r) => r.json())));
    const refused = answers.filter((a) => !a.ok && /too many/.test(a.error)).length;
    expect(refused).toBeGreaterThanOrEqual(30);
    expect(answers.filter((a) => a.ok).length).toBeGreaterThanOrEqual(1);
    // the queue empties: a later check runs
    expect((await (await post('/api/checkFilter', JSON.stringify({ device: 'lo', filter: 'tcp' }))).json()).ok).toBe(true);
  }, 60_000);

  it('a client that never reads its deltas is cut off, the others keep theirs, memory stays put', async () => {
    const reader = new WebSocket(`ws://127.0.0.1:${srv.port}/ws`, ['weft', `weft-token.${srv.token}`]);
    let read = 0;
    reader.on('message', () => read++);
    const sleeper = new WebSocket(`ws://127.0.0.1:${srv.port}/ws`, ['weft', `weft-token.${srv.token}`]);
    await Promise.all([reader, sleeper].map((w) => new Promise((r) => w.on('open', r))));
    // the sleeper's socket is never read again: what the server sends it piles up
    (sleeper as unknown as { _socket: Socket })._socket.pause();
    const cut = new Promise<void>((r) => sleeper.on('close', () => r()));
    const before = process.memoryUsage().rss;
    // every delta carries every job, each with its path: jobs of a capture under a 3,800-byte path
    // make deltas of megabytes, which fill the kernel's buffers towards the sleeper in a few seconds
    let deep = dir;
    for (let i = 0; i < 15; i++) deep = join(deep, String.fromCharCode(97 + i).repeat(250));
    mkdirSync(deep, { recursive: true });
    const file = join(deep, 'http.pcap');
    copyFileSync(join(REAL, 'zeek-http-get.pcap'), file);
    for (let i = 0; i < 600; i += 20) {
      await Promise.all(Array.from({ length: 20 }, () => post('/pcap', JSON.stringify({ path: file }))));
      await new Promise((r) => setTimeout(r, 50));
    }
    // behind for longer than slowClientMs (1.5 s here): the server has let it go; reading again, it finds the socket closed
    await new Promise((r) => setTimeout(r, 2500));
    (sleeper as unknown as { _socket: Socket })._socket.resume();
    await cut;
    expect(read).toBeGreaterThan(5);
    expect(reader.readyState).toBe(WebSocket.OPEN);
    expect(process.memoryUsage().rss - before).toBeLessThan(300 << 20);
    await session.whenIdle();
    reader.close();
  }, 60_000);
});

describe('weft serve writes only inside its output root', () => {
  it('without --out it saves nothing; with it, only inside (links and .. climbing out are refused)', async () => {
    const exp = await post('/api/exportFlows', JSON.stringify({ formats: ['jsonl'], out: join(dir, 'x') }));
    expect(exp.status).toBe(403);
    expect((await exp.json()).error).toMatch(/this server saves nothing \(start weft serve with --out DIR/);
    const live = await post('/api/startCapture', JSON.stringify({ device: 'lo', filter: '', write: '/etc/weft-test.pcapng' }));
    expect(live.status).toBe(403);

    const root = join(dir, 'root');
    mkdirSync(join(root, 'inside'), { recursive: true });
    symlinkSync('/etc', join(root, 'etc-link'));
    expect(outsideRoot(root, join(root, 'inside', 'new', 'deeper'), 'export')).toBeNull();
    expect(outsideRoot(root, join(root, 'a.pcapng'), 'save to')).toBeNull();
    expect(outsideRoot(root, join(root, '..', 'escape'), 'export')).toMatch(/is outside/);
    expect(outsideRoot(root, `${root}/inside/../../../etc/x`, 'export')).toMatch(/is outside/);
    expect(outsideRoot(root, join(root, 'etc-link', 'passwd-copy'), 'export')).toMatch(/is outside/);
    expect(outsideRoot(root, 'relative/path', 'export')).toMatch(/absolute path/);

    // through HTTP, on a server given the root (and a file read, to have flows to export)
    await session.openCapture({ path: join(REAL, 'zeek-http-get.pcap') });
    await session.whenIdle();
    const s2 = await startServer({ session, rendererDir: RENDERER, port: 0, outputRoot: root });
    try {
      const call = (body: unknown) => fetch(`http://127.0.0.1:${s2.port}/api/exportFlows`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', authorization: `Bearer ${s2.token}` } });
      expect((await call({ formats: ['jsonl'], out: join(root, 'etc-link', 'weft') })).status).toBe(403);
      expect((await call({ formats: ['jsonl'], out: join(root, '..', '..', 'tmp-escape') })).status).toBe(403);
      const ok = await call({ formats: ['jsonl'], out: join(root, 'inside', 'export-1') });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ ok: true });
      await session.whenIdle();
    } finally {
      await s2.close();
    }
  });
});

describe('weft serve start-up errors', () => {
  const serve = (...args: string[]) =>
    new Promise<{ code: number | null; err: string }>((resolve) => {
      execFile(process.execPath, [WEFT, 'serve', ...args], { timeout: 20_000, env: { ...process.env, TMPDIR: dir } }, (e, _out, err) => resolve({ code: e ? ((e as { code?: number }).code ?? null) : 0, err }));
    });

  it('a port in use and an address not of this machine: one line, exit 2, no spool left', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => taken.once('listening', r));
    const port = (taken.address() as { port: number }).port;
    try {
      const r = await serve('--port', String(port));
      expect(r.code).toBe(2);
      expect(r.err.trim()).toMatch(new RegExp(`^weft: port ${port} on 127\\.0\\.0\\.1 is in use: choose another with --port N`));
      expect(r.err.trim().split('\n')).toHaveLength(1);
    } finally {
      taken.close();
    }
    const bad = await serve('--host', '192.0.2.77', '--port', '0');
    expect(bad.code).toBe(2);
    expect(bad.err.trim()).toMatch(/^weft: cannot listen on 192\.0\.2\.77: it is not an address of this machine/);
    expect(readdirSync(dir).filter((f) => f.startsWith('weft-'))).toEqual([]);
  }, 40_000);
});

describe('weft serve and Ctrl-C', () => {
  it('Ctrl-C signals the foreground process group: the engine is not in it, the server stops it in order (exit 0, nothing on stderr, no spool)', async () => {
    for (let run = 0; run < 3; run++) {
      // its own process group, as a shell gives a foreground job
      const child = spawn(process.execPath, [WEFT, 'serve', '--port', '0', join(REAL, 'zeek-redis-large-requests-responses.pcap')], { detached: true, env: { ...process.env, TMPDIR: dir } });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      await new Promise<void>((resolve) => child.stdout.on('data', (d) => String(d).includes('Ctrl-C stops') && resolve()));
      const engine = Number(execFileSync('pgrep', ['-P', String(child.pid), '-f', 'engine-child']).toString().trim());
      const group = Number(execFileSync('ps', ['-o', 'pgid=', '-p', String(engine)]).toString().trim());
      expect(group).not.toBe(child.pid);
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      process.kill(-child.pid!, 'SIGINT');
      expect(await exited).toBe(0);
      expect(err).toBe('');
      expect(() => process.kill(engine, 0)).toThrow();
      expect(readdirSync(dir).filter((f) => f.startsWith('weft-session-'))).toEqual([]);
    }
  }, 40_000);

  it('an engine whose parent is killed outright exits by itself', async () => {
    const child = spawn(process.execPath, [WEFT, 'serve', '--port', '0'], { env: { ...process.env, TMPDIR: dir } });
    await new Promise<void>((resolve) => child.stdout.on('data', (d) => String(d).includes('Ctrl-C stops') && resolve()));
    const engine = Number(execFileSync('pgrep', ['-P', String(child.pid), '-f', 'engine-child']).toString().trim());
    child.kill('SIGKILL');
    const deadline = Date.now() + 10_000;
    let alive = true;
    while (alive && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      try {
        process.kill(engine, 0);
      } catch {
        alive = false;
      }
    }
    expect(alive).toBe(false);
  }, 20_000);
});
