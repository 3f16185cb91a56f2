/**
 * Preload: exposes one named function per IPC contract channel through contextBridge, and
 * nothing generic (no `invoke(channel, …)`). The contract arrives with the app issue; today the
 * renderer only learns which shell it runs in.
 */
import { contextBridge } from 'electron';

contextBridge.exposeInMainWorld('weft', {
  shell: 'electron' as const,
});
