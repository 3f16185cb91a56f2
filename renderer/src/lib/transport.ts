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

export function serveApi(base = location.origin): WeftApi {
  const listeners = new Set<(d: SessionDelta) => void>();
  let ws: WebSocket | null = null;
  const connect = () => {
    ws = new WebSocket(base.replace(/^http/, 'ws') + '/ws');
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
      try {
        const r = await fetch(`${base}/api/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(req), credentials: 'same-origin' });
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
    const r = await fetch(`${base}/upload?name=${encodeURIComponent(file.name)}`, { method: 'POST', body: file, credentials: 'same-origin', headers: { 'content-type': 'application/octet-stream' } });
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
