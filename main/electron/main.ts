/**
 * Electron main process: the only code that imports `electron` (with the preload; a layering test
 * enforces it). Thin on purpose: a hardened window, the native menu and dialogs, IPC registration,
 * and the engine in a utility process. Packet work never runs here.
 */
import { app, BrowserWindow, dialog, ipcMain, Menu, net, protocol, shell } from 'electron';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { APP_SCHEME, APP_URL, appFile } from './app-protocol';
import { Session } from '../service/session/session';
import { RecentFiles } from '../service/recent';
import { forwardDeltas, registerIpc } from './ipc';
import { captureArgs, menuTemplate } from './menu';
import { UtilityProcessHost, utilityProbe } from './utility-host';

export function windowOptions(preload: string): Electron.BrowserWindowConstructorOptions {
  return {
    width: 1280,
    height: 800,
    minWidth: 640,
    minHeight: 400,
    title: 'Weft',
    show: false,
    webPreferences: {
      preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webviewTag: false,
      spellcheck: false,
    },
  };
}

/** No navigation away from the app (of the page or any frame), no new windows, no webviews: links open in the browser. */
export function harden(contents: Electron.WebContents): void {
  // the page needs no camera, microphone, notifications, geolocation…: every request is refused,
  // and every check for one answers no
  contents.session.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  contents.session.setPermissionCheckHandler(() => false);
  contents.on('will-navigate', (e) => e.preventDefault());
  contents.on('will-frame-navigate', (e) => e.preventDefault());
  contents.on('will-attach-webview', (e) => e.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    if (/^https?:\/\//.test(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
}


function start(): void {
  const out = join(__dirname, '..');
  // the same recent list as weft serve's, in the app's own folder; kept between runs
  const recentFiles = new RecentFiles(join(app.getPath('userData'), 'recent.json'));
  const cli = join(out, 'cli');
  const session = new Session(new UtilityProcessHost(cli), recentFiles, () => new UtilityProcessHost(cli), undefined, utilityProbe(cli));
  // the renderer through app://weft/, not file:// (where 'self' would be every local file)
  const rendererDir = join(out, 'renderer');
  protocol.handle(APP_SCHEME, (req) => {
    const f = appFile(rendererDir, req.url);
    return f === null ? new Response('not found', { status: 404 }) : net.fetch(pathToFileURL(f.path).href, { headers: { 'content-type': f.type } });
  });
  const win = new BrowserWindow(windowOptions(join(out, 'preload', 'index.cjs')));
  registerIpc(ipcMain, session, APP_URL, {
    exportFolder: async (suggested) => {
      const r = await dialog.showOpenDialog(win, { title: 'Export into folder', defaultPath: suggested || app.getPath('documents'), properties: ['openDirectory', 'createDirectory'] });
      return r.canceled || r.filePaths.length === 0 ? null : r.filePaths[0];
    },
    saveCapture: async (suggested) => {
      const r = await dialog.showSaveDialog(win, { title: 'Save the capture as', defaultPath: suggested || join(app.getPath('documents'), 'capture.pcapng'), filters: [{ name: 'pcapng', extensions: ['pcapng'] }] });
      return r.canceled || !r.filePath ? null : r.filePath;
    },
  });
  harden(win.webContents);
  forwardDeltas(session, win.webContents);
  win.once('ready-to-show', () => win.show());
  void win.loadURL(APP_URL);

  const open = async (path: string) => {
    const r = await session.openCapture({ path });
    if (!r.ok) void dialog.showMessageBox(win, { type: 'error', message: r.error });
    else setMenu();
  };
  const setMenu = () =>
    Menu.setApplicationMenu(
      Menu.buildFromTemplate(
        menuTemplate({
          recent: recentFiles.list(),
          open: async () => {
            const r = await dialog.showOpenDialog(win, {
              properties: ['openFile', 'multiSelections'],
              filters: [
                { name: 'Captures', extensions: ['pcap', 'pcapng', 'cap'] },
                { name: 'All files', extensions: ['*'] },
              ],
            });
            for (const p of r.filePaths) await open(p);
          },
          openRecent: (p) => void open(p),
          exportFlows: () => win.webContents.send('weft:menu', 'export'),
          selfTest: () => win.webContents.send('weft:menu', 'selftest'),
          quit: () => app.quit(),
        }),
      ),
    );
  setMenu();
  win.webContents.once('did-finish-load', () => {
    for (const f of captureArgs(process.argv.slice(1))) void open(f);
  });
  app.on('before-quit', () => void session.close());
}

// before the app is ready: app:// is a standard, secure scheme (fetch, CSP 'self' work on it)
protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
app.on('web-contents-created', (_e, contents) => harden(contents));
void app.whenReady().then(start);
app.on('window-all-closed', () => app.quit());
