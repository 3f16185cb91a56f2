/**
 * The renderer's one way to the main side: `window.weft` (the Electron preload) when present,
 * else the HTTP + WebSocket client of `weft serve`. Both give the same WeftApi.
 */
import type { ChannelName, Channels, Job, Result, SessionDelta, WeftApi } from '../../../main/ipc/contract';

// every channel, checked by the compiler (a channel added to the contract must be added here)
const ALL: Record<ChannelName, true> = {
  openCapture: true,
  cancelJob: true,
  pauseJob: true,
  queryFlows: true,
  readStream: true,
  readMessages: true,
  exportFlows: true,
  getState: true,
  listDevices: true,
  checkFilter: true,
  startCapture: true,
  setLimits: true,
  searchStream: true,
  readRows: true,
  flowTimeline: true,
  listRecent: true,
  newSession: true,
  selfTest: true,
  comparePolicies: true,
  setHostPolicies: true,
  readPackets: true,
  findFrame: true,
};
const NAMES = Object.keys(ALL) as ChannelName[];

/**
 * weft serve's token: taken from the address the page was opened with (`?token=`), kept for this
 * tab in sessionStorage, and removed from the address bar (so it is not in the history, a
 * bookmark or a screenshot). Sent as a header, never a cookie.
 */
export function serveToken(): string {
  const url = new URL(location.href);
  const t = url.searchParams.get('token');
  if (t) {
    sessionStorage.setItem('weft-token', t);
    url.searchParams.delete('token');
    history.replaceState(history.state, '', url.pathname + url.search + url.hash);
    return t;
  }
  return sessionStorage.getItem('weft-token') ?? '';
}

export function serveApi(base = location.origin, token = serveToken()): WeftApi {
  const listeners = new Set<(d: SessionDelta) => void>();
  let ws: WebSocket | null = null;
  const connect = () => {
    // a browser cannot set headers on a WebSocket: the token rides as a second subprotocol
    ws = new WebSocket(base.replace(/^http/, 'ws') + '/ws', ['weft', `weft-token.${token}`]);
    ws.onmessage = (ev) => {
      const m = JSON.parse(String(ev.data)) as { type: string; delta: SessionDelta };
      if (m.type === 'delta') for (const l of listeners) l(m.delta);
    };
    ws.onclose = () => {
      ws = null;
      if (listeners.size) setTimeout(connect, 1000);
    };
  };
  const api = {} as Record<string, unknown>;
  for (const name of NAMES) {
    api[name] = async (req: unknown): Promise<Result<unknown>> => {
      if (!token) return { ok: false, error: 'no token: open the address weft serve printed (it ends in ?token=…)' };
      try {
        const r = await fetch(`${base}/api/${name}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(req), credentials: 'omit' });
        return (await r.json()) as Result<unknown>;
      } catch (e) {
        return { ok: false, error: `cannot reach weft serve: ${(e as Error).message}` };
      }
    };
  }
  api.onDelta = (fn: (d: SessionDelta) => void) => {
    listeners.add(fn);
    if (!ws) connect();
    return () => {
      listeners.delete(fn);
      if (!listeners.size) ws?.close();
    };
  };
  return api as unknown as WeftApi;
}

export function getApi(): WeftApi {
  const w = (globalThis as { weft?: WeftApi }).weft;
  return w && typeof w.queryFlows === 'function' ? w : serveApi();
}

/**
 * weft serve only: uploads a dropped capture file into the session's upload folder on the server
 * and opens it there (the desktop app opens dropped files where they are).
 */
export async function uploadCapture(file: File, base = location.origin): Promise<Result<Job>> {
  try {
    const r = await fetch(`${base}/upload?name=${encodeURIComponent(file.name)}`, { method: 'POST', body: file, credentials: 'omit', headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${serveToken()}` } });
    const body = (await r.json()) as { job?: Job; error?: string };
    return r.ok && body.job ? { ok: true, value: body.job } : { ok: false, error: body.error ?? `upload failed (${r.status})` };
  } catch (e) {
    return { ok: false, error: `cannot reach weft serve: ${(e as Error).message}` };
  }
}

/** Desktop only: the path of a dropped file (the preload can tell it; a browser cannot). */
export function pathForFile(): ((f: File) => string) | undefined {
  return (globalThis as { weft?: { pathForFile?: (f: File) => string } }).weft?.pathForFile;
}

/** Desktop only: the application menu's commands (File > Export…); undefined in a browser. */
export function onMenu(): ((fn: (command: string) => void) => () => void) | undefined {
  return (globalThis as { weft?: { onMenu?: (fn: (c: string) => void) => () => void } }).weft?.onMenu;
}

export type { Channels };
