/**
 * `weft serve`: the app in a browser. Serves the built renderer and the contract's channels over
 * HTTP (POST /api/<channel>) with deltas pushed over a WebSocket (/ws), plus the classic
 * `POST /pcap {"path": …}` of the Go reassembler, and `POST /upload?name=…` (a capture file dropped
 * on the page: its bytes are written into the server's upload folder, then opened there).
 *
 * Security: binds 127.0.0.1 unless told otherwise. A random token is required on every request
 * but the GETs of the page's own files (the renderer, no data): `Authorization: Bearer` (the page keeps the token it was opened
 * with and takes it out of the address bar), `?token=` (curl, the classic POST /pcap), or the
 * WebSocket subprotocol `weft-token.<token>`. Never a cookie: a cookie would go to every server on
 * 127.0.0.1, whatever its port. The Host header must name this server by an IP address or
 * `localhost` (a DNS name pointing here, DNS rebinding, is refused); a browser's Origin, on POSTs
 * and WebSocket upgrades, must be this server's; POST bodies are labelled JSON (a cross-origin
 * "simple" text/plain POST is refused) unless the token came as a header, or, for uploads,
 * octet-stream. Requests are checked with the
 * contract's guards before the session sees them; bad input gets a 4xx with a message and the
 * server keeps running.
 *
 * Nothing a client sends brings it down or grows it without bound: every socket has an error
 * handler; WebSocket messages are capped at 64 KiB (the page sends none); bodies at 1 MiB (413,
 * before reading when Content-Length says so); headers must arrive within 10 s and a socket
 * that sends nothing for two minutes is closed; past MAX_SOCKETS open sockets the longest idle
 * is closed for the new one (20,000 idle sockets cannot lock anyone out); a client that does not
 * read its deltas gets them coalesced (the latest, with the changed rows added up) and is cut off
 * if it stays behind for SLOW_CLIENT_MS.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, realpathSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';
import { WebSocketServer } from 'ws';
import { isPcapMagic, isPcapngMagic } from '../engine/formats';
import { CHANNELS, guards, type ChannelName } from '../ipc/contract';
import type { SessionDelta } from '../ipc/contract';
import { contentType } from './content-types';
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
  /**
   * The only folder the server's clients may write into (exports, live captures saved), checked
   * through real paths; none: the server writes nothing anywhere (uploads aside, in their own folder).
   */
  outputRoot?: string;
  /** How long a WebSocket client may stay behind on its deltas before it is cut off (default SLOW_CLIENT_MS). */
  slowClientMs?: number;
}

export interface RunningServer {
  url: string;
  port: number;
  host: string;
  token: string;
  close(): Promise<void>;
}

const MAX_BODY = 1 << 20;
/** Open sockets at most; past it the one idle longest is closed for the newcomer. */
const MAX_SOCKETS = 512;
/** Bytes a WebSocket may have waiting to be sent before its deltas are coalesced. */
const WS_BEHIND = 1 << 20;
/** How long a client may stay behind before it is cut off. */
const SLOW_CLIENT_MS = 30_000;
/** The page's WebSocket subprotocol, and the prefix of the one that carries the token. */
const WS_PROTOCOL = 'weft';
const WS_TOKEN = 'weft-token.';

/** Whether a Host header names a server by an IP address or localhost (not a DNS name that could be rebound). */
export function hostAllowed(host: string | undefined, port: number): boolean {
  if (!host) return false;
  const m = host.match(/^(\[[0-9a-fA-F:.]+\]|[0-9.]+|localhost)(?::(\d+))?$/i);
  if (!m) return false;
  if (m[2] !== undefined && Number(m[2]) !== port) return false;
  return m[1].startsWith('[') || m[1].toLowerCase() === 'localhost' || /^\d{1,3}(\.\d{1,3}){3}$/.test(m[1]);
}

/** A file name safe to create: the last path part, letters, digits, '.', '-', '_' (others '_'), not starting with '.'. */
export function safeUploadName(name: string): string {
  const base = name.split(/[/\\]/).pop() ?? '';
  const clean = base.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '').slice(0, 120);
  return clean || 'capture.pcap';
}

/**
 * Why a client may not write at `path`, or null when it may: it must lie inside `root` once every
 * link in the part that exists is followed (a link or `..` climbing out is refused).
 */
export function outsideRoot(root: string | undefined, path: string, what: string): string | null {
  if (root === undefined) return `${what}: this server saves nothing (start weft serve with --out DIR to allow saving into DIR)`;
  if (!isAbsolute(path)) return `${what}: give an absolute path inside ${root}`;
  const realRoot = realpathSync(root);
  let existing = resolve(path);
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  const real = join(realpathSync(existing), relative(existing, resolve(path)));
  return real === realRoot || real.startsWith(realRoot + sep) ? null : `${what}: ${path} is outside ${root}, the only folder this server writes into (--out)`;
}

export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const token = o.token ?? randomBytes(16).toString('hex');
  const host = o.host ?? '127.0.0.1';
  const tokenBuf = Buffer.from(token);
  /** The port listened on (known once listening; requests come only after). */
  let port = 0;

  const authorized = (req: IncomingMessage, url: URL): boolean => {
    const cands: string[] = [];
    const q = url.searchParams.get('token');
    if (q) cands.push(q);
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ')) cands.push(auth.slice(7));
    for (const p of String(req.headers['sec-websocket-protocol'] ?? '').split(',')) if (p.trim().startsWith(WS_TOKEN)) cands.push(p.trim().slice(WS_TOKEN.length));
    return cands.some((c) => {
      const b = Buffer.from(c);
      return b.length === tokenBuf.length && timingSafeEqual(b, tokenBuf);
    });
  };

  const json = (res: ServerResponse, status: number, body: unknown, close = false) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', ...(close ? { connection: 'close' } : {}) });
    res.end(JSON.stringify(body));
  };

  /** A browser's Origin, when there is one, must be this server's (the Host was checked first). */
  const originAllowed = (req: IncomingMessage): boolean => {
    const origin = req.headers.origin;
    return origin === undefined || origin === `http://${req.headers.host}`;
  };

  /** The body, or null when it is larger than MAX_BODY (the caller answers 413; the rest is not read). */
  const readBody = (req: IncomingMessage): Promise<string | null> =>
    new Promise((resolve, reject) => {
      if (Number(req.headers['content-length'] ?? 0) > MAX_BODY) return resolve(null);
      let size = 0;
      const parts: Buffer[] = [];
      const onData = (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          req.off('data', onData);
          req.pause();
          resolve(null);
        } else parts.push(c);
      };
      req.on('data', onData);
      req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
      req.on('error', reject);
    });
  const tooLarge = (res: ServerResponse) => json(res, 413, { error: `request body larger than ${MAX_BODY} bytes` }, true);
  /**
   * A JSON body, or why not (the answer is sent). Labelled application/json — or anything, when
   * the token came in the Authorization header, which no cross-origin "simple" request can carry
   * (so `curl -d` with `-H "Authorization: Bearer …"` works as it always did).
   */
  const jsonBody = async (req: IncomingMessage, res: ServerResponse): Promise<{ value: unknown } | null> => {
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '') && !req.headers.authorization?.startsWith('Bearer ')) {
      json(res, 415, { ok: false, error: 'send the body as application/json' });
      return null;
    }
    const text = await readBody(req);
    if (text === null) {
      tooLarge(res);
      return null;
    }
    const body = parseJson(text);
    if (!body.ok) {
      json(res, 400, { ok: false, error: body.error });
      return null;
    }
    return { value: body.value };
  };

  const parseJson = (text: string): { ok: true; value: unknown } | { ok: false; error: string } => {
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch (e) {
      return { ok: false, error: `body is not JSON: ${(e as Error).message}` };
    }
  };

  const serveStatic = (res: ServerResponse, path: string) => {
    // browsers ask for /favicon.ico whatever the page links: the page's icon
    const rel = normalize(path === '/' ? '/index.html' : path === '/favicon.ico' ? '/favicon.svg' : path).replace(/^(\.\.[/\\])+/, '');
    const file = join(o.rendererDir, rel);
    if (!file.startsWith(normalize(o.rendererDir) + sep) || !existsSync(file) || !statSync(file).isFile()) {
      if (!existsSync(join(o.rendererDir, 'index.html'))) return json(res, 500, { error: `the renderer is not built (${o.rendererDir}): run 'npm run build'` });
      return json(res, 404, { error: `not found: ${path}` });
    }
    const headers: Record<string, string> = {
      'content-type': contentType(file),
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
    };
    if (extname(file) === '.html') {
      headers['content-security-policy'] = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
      headers['x-frame-options'] = 'DENY';
    }
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
    if (!/^application\/octet-stream\b/i.test(req.headers['content-type'] ?? '')) return json(res, 415, { error: 'send the file as application/octet-stream' });
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
      const method = req.method ?? 'GET';
      if (!hostAllowed(req.headers.host, port)) return json(res, 421, { error: `this server answers to its address (127.0.0.1:${port}), not to ${req.headers.host ?? 'no Host'}` }, true);
      if (method !== 'GET' && !originAllowed(req)) return json(res, 403, { error: `requests from ${req.headers.origin} are refused` }, true);
      // the page and its files are public (the open-source renderer, no data): what it asks for needs the token
      if (method !== 'GET' && !authorized(req, url)) return json(res, 401, { error: 'missing or wrong token: open the URL weft serve printed' });
      if (method === 'POST' && url.pathname === '/pcap') {
        const body = await jsonBody(req, res);
        if (body === null) return;
        if (!guards.openCapture(body.value)) return json(res, 400, { error: 'expected {"path": "<capture file>"}' });
        const r = await o.session.openCapture(body.value);
        if (!r.ok) return json(res, openStatus(r.error), { error: r.error });
        return json(res, 202, { job: r.value });
      }
      if (method === 'POST' && url.pathname === '/upload') return await upload(req, res, url);
      if (method === 'POST' && url.pathname.startsWith('/api/')) {
        const name = url.pathname.slice(5) as ChannelName;
        if (!CHANNELS.includes(name)) return json(res, 404, { error: `no such channel '${name}'` });
        const body = await jsonBody(req, res);
        if (body === null) return;
        if (!(guards[name] as (v: unknown) => boolean)(body.value)) return json(res, 400, { ok: false, error: `bad request for ${name}` });
        // writes go only where the server was told it may write
        const v = body.value as { out?: string; write?: string };
        const refused = name === 'exportFlows' ? outsideRoot(o.outputRoot, v.out!, 'export') : name === 'startCapture' && v.write ? outsideRoot(o.outputRoot, v.write, 'save to') : null;
        if (refused !== null) return json(res, 403, { ok: false, error: refused });
        const handler = o.session[name].bind(o.session) as (v: unknown) => Promise<unknown>;
        return json(res, 200, await handler(body.value));
      }
      if (method === 'GET') return serveStatic(res, url.pathname);
      return json(res, 405, { error: `${method} ${url.pathname} is not supported` });
    } catch (e) {
      if (!res.headersSent) json(res, 400, { error: (e as Error).message });
    }
  });

  // the page sends nothing over its WebSocket: a small cap, and the subprotocol it asked for
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 << 10, handleProtocols: (protocols) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false) });
  wss.on('error', () => {});
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://localhost');
    const refuse = (status: string) => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      socket.destroy();
    };
    if (!hostAllowed(req.headers.host, port)) return refuse('421 Misdirected Request');
    if (!originAllowed(req)) return refuse('403 Forbidden');
    if (url.pathname !== '/ws' || !authorized(req, url)) return refuse('401 Unauthorized');
    wss.handleUpgrade(req, socket, head, (ws) => {
      // a frame the server cannot take (bad UTF-8, too big) ends this socket, never the server
      ws.on('error', () => ws.terminate());
      // a client that does not read: its deltas wait as one (the latest, the changed rows added up)
      let waiting: SessionDelta | null = null;
      let behindSince = 0;
      let timer: NodeJS.Timeout | null = null;
      const push = () => {
        timer = null;
        if (ws.readyState !== ws.OPEN || waiting === null) return;
        if (ws.bufferedAmount > WS_BEHIND) {
          behindSince ||= Date.now();
          if (Date.now() - behindSince > (o.slowClientMs ?? SLOW_CLIENT_MS)) return ws.terminate();
          timer = setTimeout(push, 100);
          return;
        }
        behindSince = 0;
        const d = waiting;
        waiting = null;
        ws.send(JSON.stringify({ type: 'delta', delta: d }));
      };
      const off = o.session.onDelta((d) => {
        waiting = waiting === null ? d : { ...d, changed: waiting.changed + d.changed };
        if (timer === null) push();
      });
      ws.on('close', () => {
        off();
        if (timer !== null) clearTimeout(timer);
      });
    });
  });

  // sockets: the idle ones are closed first when too many are open, and none lingers silent
  server.headersTimeout = 10_000;
  server.requestTimeout = 0; // uploads of large files take as long as they take (while bytes flow)
  server.setTimeout(120_000, (s) => s.destroy());
  const sockets = new Map<import('node:net').Socket, { busy: boolean }>();
  server.on('connection', (s) => {
    s.on('error', () => s.destroy());
    if (sockets.size >= MAX_SOCKETS) {
      for (const [old, st] of sockets)
        if (!st.busy) {
          old.destroy();
          sockets.delete(old);
          break;
        }
    }
    sockets.set(s, { busy: false });
    s.once('close', () => sockets.delete(s));
  });
  server.on('request', (req, res) => {
    const st = sockets.get(req.socket);
    if (!st) return;
    st.busy = true;
    res.once('close', () => {
      st.busy = false;
      // idle again: to the end of the line of sockets to close first
      if (sockets.delete(req.socket)) sockets.set(req.socket, st);
    });
  });
  server.on('upgrade', (req) => {
    const st = sockets.get(req.socket);
    if (st) st.busy = true;
  });
  server.on('clientError', (_e, s) => {
    if (s.writable) s.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    s.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
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
