/**
 * `weft serve`: the app in a browser. Serves the built renderer and the contract's channels over
 * HTTP (POST /api/<channel>) with deltas pushed over a WebSocket (/ws), plus the classic
 * `POST /pcap {"path": …}` of the Go reassembler, and `POST /upload?name=…` (a capture file dropped
 * on the page: its bytes are written into the server's upload folder, then opened there).
 *
 * Security: binds 127.0.0.1 unless told otherwise; a random token is required on EVERY request
 * (query `token=`, `Authorization: Bearer`, or the HttpOnly SameSite=Strict cookie set when the
 * page is opened with the token). Anything without it gets 401. Requests are checked with the
 * contract's guards before the session sees them; bad input gets a 4xx with a message and the
 * server keeps running.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { WebSocketServer } from 'ws';
import { isPcapMagic, isPcapngMagic } from '../engine/formats';
import { CHANNELS, guards, type ChannelName } from '../ipc/contract';
import type { Session } from '../service/session/session';

export interface ServeOptions {
  session: Session;
  /** Folder of the built renderer (index.html and assets/). */
  rendererDir: string;
  host?: string;
  port?: number;
  token?: string;
  /** Where dropped files are uploaded (default: a new folder in the system's temp folder, removed on close). */
  uploadDir?: string;
  /** Largest upload accepted, bytes (default 16 GiB). */
  maxUploadBytes?: number;
}

export interface RunningServer {
  url: string;
  port: number;
  host: string;
  token: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

const MAX_BODY = 1 << 20;

/** A file name safe to create: the last path part, letters, digits, '.', '-', '_' (others '_'), not starting with '.'. */
export function safeUploadName(name: string): string {
  const base = name.split(/[/\\]/).pop() ?? '';
  const clean = base.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '').slice(0, 120);
  return clean || 'capture.pcap';
}

export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const token = o.token ?? randomBytes(16).toString('hex');
  const host = o.host ?? '127.0.0.1';
  const tokenBuf = Buffer.from(token);

  const authorized = (req: IncomingMessage, url: URL): boolean => {
    const cands: string[] = [];
    const q = url.searchParams.get('token');
    if (q) cands.push(q);
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ')) cands.push(auth.slice(7));
    const cookie = req.headers.cookie?.match(/(?:^|;\s*)weft_token=([^;]+)/);
    if (cookie) cands.push(cookie[1]);
    return cands.some((c) => {
      const b = Buffer.from(c);
      return b.length === tokenBuf.length && timingSafeEqual(b, tokenBuf);
    });
  };

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };

  const readBody = (req: IncomingMessage): Promise<string> =>
    new Promise((resolve, reject) => {
      let size = 0;
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          reject(new Error('request body too large'));
          req.destroy();
        } else parts.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
      req.on('error', reject);
    });

  const parseJson = (text: string): { ok: true; value: unknown } | { ok: false; error: string } => {
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch (e) {
      return { ok: false, error: `body is not JSON: ${(e as Error).message}` };
    }
  };

  const serveStatic = (res: ServerResponse, path: string, setCookie: boolean) => {
    const rel = normalize(path === '/' ? '/index.html' : path).replace(/^(\.\.[/\\])+/, '');
    const file = join(o.rendererDir, rel);
    if (!file.startsWith(normalize(o.rendererDir) + sep) || !existsSync(file) || !statSync(file).isFile()) {
      if (!existsSync(join(o.rendererDir, 'index.html'))) return json(res, 500, { error: `the renderer is not built (${o.rendererDir}): run 'npm run build'` });
      return json(res, 404, { error: `not found: ${path}` });
    }
    const headers: Record<string, string> = {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
    };
    if (extname(file) === '.html') {
      headers['content-security-policy'] = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
      headers['x-frame-options'] = 'DENY';
    }
    if (setCookie) headers['set-cookie'] = `weft_token=${token}; HttpOnly; SameSite=Strict; Path=/`;
    res.writeHead(200, headers);
    res.end(readFileSync(file));
  };

  const ownUploads = o.uploadDir === undefined;
  let uploadDir: string | null = o.uploadDir ?? null;
  let uploads = 0;
  const maxUpload = o.maxUploadBytes ?? 16 * 2 ** 30;

  /** Writes the request body to a new file in the upload folder; rejects past maxUpload. */
  const receive = (req: IncomingMessage, path: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const fd = openSync(path, 'wx');
      let size = 0;
      let failed = false;
      const fail = (e: Error) => {
        if (failed) return;
        failed = true;
        closeSync(fd);
        rmSync(path, { force: true });
        reject(e);
      };
      req.on('data', (c: Buffer) => {
        if (failed) return;
        size += c.length;
        if (size > maxUpload) {
          fail(new Error(`upload larger than ${maxUpload} bytes: open such a file with its path (weft serve FILE, or the path box)`));
          req.destroy();
          return;
        }
        try {
          let w = 0;
          while (w < c.length) w += writeSync(fd, c, w, c.length - w);
        } catch (e) {
          fail(new Error(`cannot write the upload (${(e as Error).message}): is the disk full?`));
          req.destroy();
        }
      });
      req.on('end', () => {
        if (failed) return;
        closeSync(fd);
        resolve(size);
      });
      req.on('error', (e) => fail(e));
    });

  const upload = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const name = safeUploadName(url.searchParams.get('name') ?? '');
    uploadDir ??= mkdtempSync(join(tmpdir(), 'weft-uploads-'));
    const path = join(uploadDir, `${++uploads}-${name}`);
    let size: number;
    try {
      size = await receive(req, path);
    } catch (e) {
      return json(res, 413, { error: `${name}: ${(e as Error).message}` });
    }
    // a capture by its first bytes, else it goes at once
    const head = Buffer.alloc(4);
    const fd = openSync(path, 'r');
    const got = readSync(fd, head, 0, 4, 0);
    closeSync(fd);
    if (got < 4 || !(isPcapMagic(head) || isPcapngMagic(head))) {
      unlinkSync(path);
      return json(res, 415, { error: `${name} (${size} bytes) is not a pcap or pcapng file (convert other formats with editcap or tshark -F pcapng)` });
    }
    const r = await o.session.openCapture({ path });
    if (!r.ok) return json(res, openStatus(r.error), { error: r.error });
    return json(res, 202, { job: r.value, path });
  };

  const openStatus = (error: string): number => {
    if (/no such file/.test(error)) return 404;
    if (/permission denied/.test(error)) return 403;
    if (/not a pcap or pcapng/.test(error)) return 415;
    return 400;
  };

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (!authorized(req, url)) return json(res, 401, { error: 'missing or wrong token: open the URL weft serve printed' });
      const method = req.method ?? 'GET';
      if (method === 'POST' && url.pathname === '/pcap') {
        const body = parseJson(await readBody(req));
        if (!body.ok) return json(res, 400, { error: body.error });
        if (!guards.openCapture(body.value)) return json(res, 400, { error: 'expected {"path": "<capture file>"}' });
        const r = await o.session.openCapture(body.value);
        if (!r.ok) return json(res, openStatus(r.error), { error: r.error });
        return json(res, 202, { job: r.value });
      }
      if (method === 'POST' && url.pathname === '/upload') return await upload(req, res, url);
      if (method === 'POST' && url.pathname.startsWith('/api/')) {
        const name = url.pathname.slice(5) as ChannelName;
        if (!CHANNELS.includes(name)) return json(res, 404, { error: `no such channel '${name}'` });
        const body = parseJson(await readBody(req));
        if (!body.ok) return json(res, 400, { ok: false, error: body.error });
        if (!(guards[name] as (v: unknown) => boolean)(body.value)) return json(res, 400, { ok: false, error: `bad request for ${name}` });
        const handler = o.session[name].bind(o.session) as (v: unknown) => Promise<unknown>;
        return json(res, 200, await handler(body.value));
      }
      if (method === 'GET') return serveStatic(res, url.pathname, url.searchParams.has('token'));
      return json(res, 405, { error: `${method} ${url.pathname} is not supported` });
    } catch (e) {
      if (!res.headersSent) json(res, 400, { error: (e as Error).message });
    }
  });

  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/ws' || !authorized(req, url)) {
      socket.write('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const off = o.session.onDelta((d) => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'delta', delta: d }));
      });
      ws.on('close', off);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}/?token=${token}`,
    port,
    host,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.closeAllConnections?.();
        server.close(() => {
          // uploads live as long as the server that took them (a folder given by the caller stays)
          if (ownUploads && uploadDir) rmSync(uploadDir, { recursive: true, force: true });
          resolve();
        });
      }),
  };
}
