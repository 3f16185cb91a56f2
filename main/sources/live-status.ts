/**
 * Whether live capture can work on this machine. `cap` (libpcap binding) is an optional
 * dependency: on a machine without libpcap's headers its build fails and `npm install` carries on
 * without it. Then everything but live capture works, and this says why and how to fix it.
 */
export interface LiveCaptureStatus {
  available: boolean;
  /** Why not, for people (empty when available). */
  reason: string;
  /** What to do about it. */
  fix: string;
}

type Loader = (id: string) => unknown;

export function liveCaptureStatus(load: Loader = require): LiveCaptureStatus {
  try {
    const mod = load('cap') as { Cap?: { deviceList?: () => unknown[] } };
    if (typeof mod?.Cap?.deviceList !== 'function') throw new Error('the cap module has no Cap.deviceList');
    return { available: true, reason: '', fix: '' };
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    const missing = /Cannot find module|MODULE_NOT_FOUND|cap\.node/.test(msg);
    return {
      available: false,
      reason: missing
        ? 'live capture unavailable: libpcap not found (the cap module was not built)'
        : `live capture unavailable: the cap module failed to load (${msg.split('\n')[0]})`,
      fix:
        process.platform === 'win32'
          ? 'install Npcap (https://npcap.com), then run `npm rebuild cap`'
          : process.platform === 'darwin'
            ? 'install the Xcode command line tools (they include libpcap), then run `npm rebuild cap`'
            : 'install libpcap: `sudo apt-get install libpcap-dev` (Debian/Ubuntu) or `sudo dnf install libpcap-devel`, then run `npm rebuild cap`',
    };
  }
}
