/**
 * IPC registration: one ipcMain handler per contract channel. Each checks that the sender is our
 * own window's page (not another frame or a navigated-away page), checks the payload with the
 * contract's guard, and answers data ({ok, value} / {ok:false, error}); nothing throws across.
 * Deltas go to the window on one event channel.
 */
import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron';
import { CHANNELS, guards, type ChannelName } from '../ipc/contract';
import type { Session } from '../service/session/session';

export const channelName = (name: ChannelName) => `weft:${name}`;
const DELTA_CHANNEL = 'weft:delta';

/** The request came from our page itself: the top frame of the window (no iframe in it), at the app's address. */
export function isTrustedSender(e: IpcMainInvokeEvent, appUrl: string): boolean {
  const frame = e.senderFrame;
  if (!frame || frame.parent !== null) return false;
  const url = frame.url ?? '';
  return url === appUrl || url.startsWith(appUrl + '#') || url.startsWith(appUrl + '?');
}

/**
 * Where the app writes is chosen by the person in the main process's own dialogs, never taken
 * from the page: the page's path is only the dialog's suggestion. Null: the dialog was cancelled.
 */
export interface PathDialogs {
  exportFolder(suggested: string): Promise<string | null>;
  saveCapture(suggested: string): Promise<string | null>;
}

export function registerIpc(ipcMain: IpcMain, session: Session, appUrl: string, dialogs: PathDialogs | null = null): () => void {
  for (const name of CHANNELS) {
    ipcMain.handle(channelName(name), async (e, req: unknown) => {
      if (!isTrustedSender(e, appUrl)) return { ok: false, error: 'refused: the request did not come from the Weft window' };
      if (!(guards[name] as (v: unknown) => boolean)(req)) return { ok: false, error: `bad request for ${name}` };
      if (name === 'exportFlows' || (name === 'startCapture' && (req as { write?: string }).write)) {
        if (dialogs === null) return { ok: false, error: 'saving needs a dialog of the app (none here)' };
        const r = req as { out?: string; write?: string };
        const chosen = name === 'exportFlows' ? await dialogs.exportFolder(r.out ?? '') : await dialogs.saveCapture(r.write ?? '');
        if (chosen === null) return { ok: false, error: name === 'exportFlows' ? 'export cancelled: no folder chosen' : 'capture not started: no file chosen to save to' };
        req = name === 'exportFlows' ? { ...r, out: chosen } : { ...r, write: chosen };
      }
      try {
        return await (session[name] as (v: unknown) => Promise<unknown>).call(session, req);
      } catch (err) {
        return { ok: false, error: (err as Error).message };
      }
    });
  }
  return () => {
    for (const name of CHANNELS) ipcMain.removeHandler(channelName(name));
  };
}

/** Forwards session deltas to the window while it lives. */
export function forwardDeltas(session: Session, contents: WebContents): () => void {
  const off = session.onDelta((d) => {
    if (!contents.isDestroyed()) contents.send(DELTA_CHANNEL, d);
  });
  contents.once('destroyed', off);
  return off;
}
