/**
 * Preload: one named function per contract channel through contextBridge, and nothing generic
 * (no `invoke(channel, …)`). Plus onDelta for pushed deltas, and pathForFile for drag and drop
 * (a dropped File's path, which the sandboxed page cannot see itself).
 */
import { contextBridge, ipcRenderer, webUtils } from 'electron';
import type { Channels, SessionDelta } from '../main/ipc/contract';

type Req<K extends keyof Channels> = Channels[K]['req'];

const api = {
  openCapture: (req: Req<'openCapture'>) => ipcRenderer.invoke('weft:openCapture', req),
  cancelJob: (req: Req<'cancelJob'>) => ipcRenderer.invoke('weft:cancelJob', req),
  pauseJob: (req: Req<'pauseJob'>) => ipcRenderer.invoke('weft:pauseJob', req),
  queryFlows: (req: Req<'queryFlows'>) => ipcRenderer.invoke('weft:queryFlows', req),
  readStream: (req: Req<'readStream'>) => ipcRenderer.invoke('weft:readStream', req),
  readMessages: (req: Req<'readMessages'>) => ipcRenderer.invoke('weft:readMessages', req),
  exportFlows: (req: Req<'exportFlows'>) => ipcRenderer.invoke('weft:exportFlows', req),
  getState: (req: Req<'getState'>) => ipcRenderer.invoke('weft:getState', req),
  listDevices: (req: Req<'listDevices'>) => ipcRenderer.invoke('weft:listDevices', req),
  checkFilter: (req: Req<'checkFilter'>) => ipcRenderer.invoke('weft:checkFilter', req),
  startCapture: (req: Req<'startCapture'>) => ipcRenderer.invoke('weft:startCapture', req),
  setLimits: (req: Req<'setLimits'>) => ipcRenderer.invoke('weft:setLimits', req),
  searchStream: (req: Req<'searchStream'>) => ipcRenderer.invoke('weft:searchStream', req),
  flowTimeline: (req: Req<'flowTimeline'>) => ipcRenderer.invoke('weft:flowTimeline', req),
  listRecent: (req: Req<'listRecent'>) => ipcRenderer.invoke('weft:listRecent', req),
  newSession: (req: Req<'newSession'>) => ipcRenderer.invoke('weft:newSession', req),
  selfTest: (req: Req<'selfTest'>) => ipcRenderer.invoke('weft:selfTest', req),
  comparePolicies: (req: Req<'comparePolicies'>) => ipcRenderer.invoke('weft:comparePolicies', req),
  setHostPolicies: (req: Req<'setHostPolicies'>) => ipcRenderer.invoke('weft:setHostPolicies', req),
  readRows: (req: Req<'readRows'>) => ipcRenderer.invoke('weft:readRows', req),
  readPackets: (req: Req<'readPackets'>) => ipcRenderer.invoke('weft:readPackets', req),
  findFrame: (req: Req<'findFrame'>) => ipcRenderer.invoke('weft:findFrame', req),
  onDelta: (fn: (d: SessionDelta) => void) => {
    const h = (_e: unknown, d: SessionDelta) => fn(d);
    ipcRenderer.on('weft:delta', h);
    return () => void ipcRenderer.removeListener('weft:delta', h);
  },
  pathForFile: (f: File) => webUtils.getPathForFile(f),
  /** Menu commands for the page (File > Export… opens the export panel). */
  onMenu: (fn: (command: 'export') => void) => {
    const h = (_e: unknown, c: 'export') => fn(c);
    ipcRenderer.on('weft:menu', h);
    return () => void ipcRenderer.removeListener('weft:menu', h);
  },
};

contextBridge.exposeInMainWorld('weft', api);

export type PreloadApi = typeof api;
