/**
 * The renderer's one way to the main side: `window.weft` (the Electron preload) when present,
 * else the HTTP + WebSocket client of `weft serve`. Both give the same WeftApi.
 */
import type { ChannelName, Channels, Result, SessionDelta, WeftApi } from '../../../main/ipc/contract';

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

export type { Channels };
