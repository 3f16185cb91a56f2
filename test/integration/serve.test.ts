/**
 * weft serve over real HTTP and WebSocket on 127.0.0.1: the token everywhere, POST /pcap with its
 * errors, the contract's channels, pushed deltas, and the built renderer.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type RunningServer } from '../../main/server/serve';
import { Session } from '../../main/service/session/session';
import { ChildProcessHost } from '../../main/service/hosts/child-host';
import { REAL } from '../helpers/fixtures';

let srv: RunningServer;
let session: Session;
const RENDERER = join(__dirname, '..', '..', 'out', 'renderer');

beforeAll(async () => {
  session = new Session(new ChildProcessHost());
  srv = await startServer({ session, rendererDir: RENDERER, port: 0 });
});
afterAll(async () => {
  await srv.close();
  await session.close();
});

const base = () => `http://127.0.0.1:${srv.port}`;
const auth = () => ({ authorization: `Bearer ${srv.token}` });
const post = (path: string, body: string, headers: Record<string, string> = auth()) =>
  fetch(base() + path, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

describe('weft serve', () => {
  it('binds to loopback and prints a URL with a random token', () => {
    expect(srv.host).toBe('127.0.0.1');
    expect(srv.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{32}$/);
  });

  it('refuses every call without the token; the page and its files are public, with no cookie', async () => {
    for (const p of ['/pcap', '/api/queryFlows', '/upload?name=x.pcap']) {
      const r = await fetch(base() + p, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
      expect(r.status, p).toBe(401);
    }
    const wrong = await post('/api/getState', '{}', { authorization: 'Bearer ' + 'f'.repeat(32) });
    expect(wrong.status).toBe(401);
    await expect(
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/ws`);
        ws.on('open', () => resolve('open'));
        ws.on('error', reject);
      }),
    ).rejects.toThrow(/401/);
    const page = await fetch(base() + '/');
    expect(page.status).toBe(200);
    expect(page.headers.get('set-cookie')).toBeNull();
  });

  it('serves the renderer with a strict policy, its icon too', async () => {
    const r = await fetch(srv.url);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/text\/html/);
    expect(r.headers.get('content-security-policy')).toMatch(/default-src 'self'.*frame-ancestors 'none'/);
    expect(r.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await r.text();
    // frame-ancestors is ignored (with a warning) in a meta tag: only the header carries it
    expect(html).not.toMatch(/<meta[^>]*frame-ancestors/);
    const asset = html.match(/src="\.?(\/assets\/[^"]+\.js)"/)![1];
    expect((await fetch(base() + asset)).status).toBe(200);
    const icon = await fetch(base() + '/favicon.ico');
    expect(icon.status).toBe(200);
    expect(icon.headers.get('content-type')).toBe('image/svg+xml');
  });

  it('POST /pcap: bad input gets a 4xx with a clear message, and the server keeps running', async () => {
    const cases: [string, number, RegExp][] = [
      ['{not json', 400, /body is not JSON/],
      ['{}', 400, /expected \{"path": "<capture file>"\}/],
      [JSON.stringify({ path: '/nonexistent/x.pcap' }), 404, /no such file/],
      [JSON.stringify({ path: join(REAL, 'SOURCES.md') }), 415, /not a pcap or pcapng file/],
      [JSON.stringify({ path: REAL }), 400, /regular file|directory/],
    ];
    for (const [body, status, re] of cases) {
      const r = await post('/pcap', body);
      expect(r.status).toBe(status);
      expect((await r.json()).error).toMatch(re);
    }
    const ok = await post('/pcap', JSON.stringify({ path: join(REAL, 'zeek-http-get.pcap') }));
    expect(ok.status).toBe(202);
    expect((await ok.json()).job).toMatchObject({ path: join(REAL, 'zeek-http-get.pcap') });
  });

  it('answers the contract channels and pushes deltas over the WebSocket', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${srv.port}/ws`, { headers: auth() });
    const deltas: unknown[] = [];
    ws.on('message', (m) => deltas.push(JSON.parse(String(m))));
    await new Promise((r) => ws.on('open', r));
    const r = await post('/pcap', JSON.stringify({ path: join(REAL, 'zeek-redis-pipelining.pcap') }));
    expect(r.status).toBe(202);
    await session.whenIdle();
    await new Promise((r) => setTimeout(r, 250));
    ws.close();
    expect(deltas.length).toBeGreaterThan(0);
    expect(deltas[0]).toMatchObject({ type: 'delta' });
    const q = await (await post('/api/queryFlows', JSON.stringify({ offset: 0, limit: 50, filter: 'port:6379' }))).json();
    expect(q.ok).toBe(true);
    expect(q.value.total).toBe(1);
    const id = q.value.rows[0].id;
    const s = await (await post('/api/readStream', JSON.stringify({ id, dir: 0, from: 0, to: 1000 }))).json();
    expect(s.ok).toBe(true);
    expect(Buffer.from(s.value.data, 'base64').toString()).toMatch(/^PING\r\n/); // redis inline commands
    const bad = await post('/api/readStream', JSON.stringify({ id: 'x' }));
    expect(bad.status).toBe(400);
    expect((await post('/api/nope', '{}')).status).toBe(404);
  });
});
