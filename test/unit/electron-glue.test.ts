/**
 * The thin Electron glue, with `electron` mocked (the one accepted mock: the Electron binary cannot
 * run here). Checks that the contract, the preload and main agree channel for channel, that the
 * window is hardened, and that IPC refuses untrusted senders and bad payloads.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { CHANNELS, guards } from '../../main/ipc/contract';

const h = vi.hoisted(() => ({
  exposed: {} as Record<string, unknown>,
  invoked: [] as [string, unknown][],
  handlers: new Map<string, (e: unknown, req: unknown) => Promise<unknown>>(),
}));

vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (k: string, v: unknown) => (h.exposed[k] = v) },
  ipcRenderer: { invoke: async (ch: string, req: unknown) => (h.invoked.push([ch, req]), { ok: true, value: null }), on: vi.fn(), removeListener: vi.fn() },
  webUtils: { getPathForFile: () => '/dropped.pcap' },
  ipcMain: { handle: (ch: string, fn: (e: unknown, req: unknown) => Promise<unknown>) => h.handlers.set(ch, fn), removeHandler: (ch: string) => h.handlers.delete(ch) },
  app: { on: vi.fn(), whenReady: () => new Promise(() => {}), quit: vi.fn() },
  BrowserWindow: vi.fn(),
  Menu: { buildFromTemplate: vi.fn(), setApplicationMenu: vi.fn() },
  dialog: { showOpenDialog: vi.fn(), showMessageBox: vi.fn() },
  shell: { openExternal: vi.fn() },
  utilityProcess: { fork: vi.fn() },
  protocol: { registerSchemesAsPrivileged: vi.fn(), handle: vi.fn() },
  net: { fetch: vi.fn() },
}));

beforeEach(() => {
  h.invoked.length = 0;
});

describe('contract, preload and main agree', () => {
  it('every channel has a guard, a session handler, a preload function and an IPC handler', async () => {
    await import('../../preload/index');
    const api = h.exposed.weft as Record<string, (...a: unknown[]) => unknown>;
    const { Session } = await import('../../main/service/session/session');
    const { registerIpc } = await import('../../main/electron/ipc');
    const session = Object.create(Session.prototype) as InstanceType<typeof Session>;
    registerIpc({ handle: (ch: string, fn: never) => h.handlers.set(ch, fn), removeHandler: () => {} } as never, session, 'file:///app/index.html');
    expect(CHANNELS.length).toBe(22);
    for (const name of CHANNELS) {
      expect(typeof guards[name]).toBe('function');
      expect(typeof (Session.prototype as unknown as Record<string, unknown>)[name]).toBe('function');
      expect(typeof api[name]).toBe('function');
      expect(h.handlers.has(`weft:${name}`)).toBe(true);
      await api[name]({ probe: name });
      expect(h.invoked.at(-1)).toEqual([`weft:${name}`, { probe: name }]);
    }
    // nothing generic: only the channels, onDelta and pathForFile
    expect(Object.keys(api).sort()).toEqual([...CHANNELS, 'onDelta', 'onMenu', 'pathForFile'].sort());
  });

  it('IPC handlers refuse other senders and payloads that fail the guard', async () => {
    const { registerIpc } = await import('../../main/electron/ipc');
    const calls: unknown[] = [];
    const session = { queryFlows: async (q: unknown) => (calls.push(q), { ok: true, value: { total: 0, offset: 0, rows: [] } }) } as never;
    h.handlers.clear();
    registerIpc({ handle: (ch: string, fn: never) => h.handlers.set(ch, fn), removeHandler: () => {} } as never, session, 'file:///app/index.html');
    const q = h.handlers.get('weft:queryFlows')!;
    const from = (url: string) => ({ senderFrame: { url, parent: null } });
    expect(await q(from('https://evil.example/'), { offset: 0, limit: 10 })).toEqual({ ok: false, error: 'refused: the request did not come from the Weft window' });
    // an iframe inside the page, even one at the app's own address, is not the page
    expect(await q({ senderFrame: { url: 'file:///app/index.html', parent: {} } }, { offset: 0, limit: 10 })).toEqual({ ok: false, error: 'refused: the request did not come from the Weft window' });
    expect(await q({ senderFrame: null }, { offset: 0, limit: 10 })).toEqual({ ok: false, error: 'refused: the request did not come from the Weft window' });
    expect(await q(from('file:///app/index.html'), { offset: -1, limit: 10 })).toEqual({ ok: false, error: 'bad request for queryFlows' });
    expect(await q(from('file:///app/index.html'), { offset: 0, limit: 10, sort: { key: 'evil', dir: 'asc' } })).toEqual({ ok: false, error: 'bad request for queryFlows' });
    expect(await q(from('file:///app/index.html#/x'), { offset: 0, limit: 10 })).toMatchObject({ ok: true });
    expect(calls).toEqual([{ offset: 0, limit: 10 }]);
  });
});

describe('paths the app writes to', () => {
  it("come from the main process's dialogs, the page's path only their suggestion; a cancelled dialog writes nothing", async () => {
    const { registerIpc } = await import('../../main/electron/ipc');
    const got: unknown[] = [];
    const session = {
      exportFlows: async (r: unknown) => (got.push(r), { ok: true, value: null }),
      startCapture: async (r: unknown) => (got.push(r), { ok: true, value: null }),
    } as never;
    const suggested: string[] = [];
    let answer: string | null = '/home/me/chosen';
    h.handlers.clear();
    registerIpc({ handle: (ch: string, fn: never) => h.handlers.set(ch, fn), removeHandler: () => {} } as never, session, 'app://weft/index.html', {
      exportFolder: async (s) => (suggested.push(s), answer),
      saveCapture: async (s) => (suggested.push(s), answer && `${answer}.pcapng`),
    });
    const from = { senderFrame: { url: 'app://weft/index.html', parent: null } };
    await h.handlers.get('weft:exportFlows')!(from, { formats: ['jsonl'], out: '/etc' });
    await h.handlers.get('weft:startCapture')!(from, { device: 'lo', filter: '', write: '/etc/passwd' });
    // no file: nothing to choose
    await h.handlers.get('weft:startCapture')!(from, { device: 'lo', filter: '' });
    expect(suggested).toEqual(['/etc', '/etc/passwd']);
    expect(got).toEqual([{ formats: ['jsonl'], out: '/home/me/chosen' }, { device: 'lo', filter: '', write: '/home/me/chosen.pcapng' }, { device: 'lo', filter: '' }]);
    answer = null;
    expect(await h.handlers.get('weft:exportFlows')!(from, { formats: ['jsonl'], out: '/etc' })).toEqual({ ok: false, error: 'export cancelled: no folder chosen' });
    expect(got).toHaveLength(3);
  });
});

describe('the window', () => {
  it('is isolated, sandboxed, without node integration or webviews', async () => {
    const { windowOptions } = await import('../../main/electron/main');
    const w = windowOptions('/p.cjs').webPreferences!;
    expect(w).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, nodeIntegrationInWorker: false, webviewTag: false, preload: '/p.cjs' });
  });

  it('denies navigation, new windows and webviews', async () => {
    const { harden } = await import('../../main/electron/main');
    const on = new Map<string, (e: { preventDefault: () => void }) => void>();
    let openHandler: ((d: { url: string }) => { action: string }) | null = null;
    let permission: ((wc: unknown, p: string, cb: (ok: boolean) => void) => void) | null = null;
    let check: ((...a: unknown[]) => boolean) | null = null;
    harden({ on: (ev: string, fn: never) => on.set(ev, fn), setWindowOpenHandler: (fn: never) => (openHandler = fn), session: { setPermissionRequestHandler: (fn: never) => (permission = fn), setPermissionCheckHandler: (fn: never) => (check = fn) } } as never);
    for (const p of ['media', 'clipboard-read', 'hid', 'serial']) expect(check!(null, p, 'app://weft', {})).toBe(false);
    for (const p of ['media', 'geolocation', 'notifications']) {
      const cb = vi.fn();
      permission!(null, p, cb);
      expect(cb).toHaveBeenCalledWith(false);
    }
    for (const ev of ['will-navigate', 'will-frame-navigate', 'will-attach-webview']) {
      const e = { preventDefault: vi.fn() };
      on.get(ev)!(e);
      expect(e.preventDefault).toHaveBeenCalled();
    }
    expect(openHandler!({ url: 'https://example.org/' })).toEqual({ action: 'deny' });
    const { shell } = await import('electron');
    expect(shell.openExternal).toHaveBeenCalledWith('https://example.org/');
    expect(openHandler!({ url: 'file:///etc/passwd' })).toEqual({ action: 'deny' });
  });

  it('is served from app://weft/, confined to the renderer folder (not file://, where self is every local file)', async () => {
    const { appFile, APP_URL } = await import('../../main/electron/app-protocol');
    expect(APP_URL).toBe('app://weft/index.html');
    expect(appFile('/opt/weft/renderer', 'app://weft/index.html')).toEqual({ path: '/opt/weft/renderer/index.html', type: 'text/html; charset=utf-8' });
    expect(appFile('/opt/weft/renderer', 'app://weft/assets/index-abc.js')).toEqual({ path: '/opt/weft/renderer/assets/index-abc.js', type: 'text/javascript; charset=utf-8' });
    expect(appFile('/opt/weft/renderer', 'app://weft/')!.path).toBe('/opt/weft/renderer/index.html');
    // climbing out lands inside the folder or nowhere
    for (const climb of ['app://weft/../../etc/passwd', 'app://weft/%2e%2e/%2e%2e/etc/passwd', 'app://weft/assets/..%2f..%2f..%2fetc%2fpasswd']) {
      const f = appFile('/opt/weft/renderer', climb);
      expect(f === null || f.path.startsWith('/opt/weft/renderer/'), climb).toBe(true);
    }
    for (const bad of ['app://other/index.html', 'file:///etc/passwd', 'not a url']) expect(appFile('/opt/weft/renderer', bad), bad).toBeNull();
  });

  it('has File > Open…, Open Recent, Export… and Quit, Help > Self-test…; takes capture files from the command line', async () => {
    const { menuTemplate, captureArgs } = await import('../../main/electron/menu');
    const acts = { open: vi.fn(), openRecent: vi.fn(), exportFlows: vi.fn(), selfTest: vi.fn(), quit: vi.fn(), recent: ['/a.pcap'] };
    const file = menuTemplate(acts)[0].submenu as { label?: string; click?: () => void; submenu?: { label: string; click: () => void }[] }[];
    expect(file.filter((i) => i.label).map((i) => i.label)).toEqual(['Open…', 'Open Recent', 'Export…', 'Quit']);
    file[0].click!();
    expect(acts.open).toHaveBeenCalled();
    file[1].submenu![0].click();
    expect(acts.openRecent).toHaveBeenCalledWith('/a.pcap');
    const exp = file.find((i) => i.label === 'Export…') as { enabled?: boolean; click: () => void };
    expect(exp.enabled).not.toBe(false);
    exp.click();
    expect(acts.exportFlows).toHaveBeenCalled();
    const help = menuTemplate(acts).find((m) => m.label === 'Help')!.submenu as { label: string; click: () => void }[];
    expect(help.map((i) => i.label)).toEqual(['Self-test…']);
    help[0].click();
    expect(acts.selfTest).toHaveBeenCalled();
    expect(captureArgs(['.', '--inspect', '/x/a.pcap', 'b.PCAPNG', 'notes.txt'])).toEqual(['/x/a.pcap', 'b.PCAPNG']);
  });

  it("the engine's utility process starts with the engine's V8 flags (a 16 MiB semi-space)", async () => {
    const electron = await import('electron');
    const fork = electron.utilityProcess.fork as unknown as ReturnType<typeof vi.fn>;
    fork.mockReturnValue({ on: vi.fn(), postMessage: vi.fn(), kill: vi.fn() });
    const { UtilityProcessHost } = await import('../../main/electron/utility-host');
    new UtilityProcessHost('/app/out/cli');
    expect(fork).toHaveBeenCalledWith('/app/out/cli/engine-utility.cjs', [], expect.objectContaining({ execArgv: ['--max-semi-space-size=16'] }));
  });
});
