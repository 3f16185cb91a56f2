/**
 * Whether in-process live capture can work on this machine: Weft's own libpcap binding
 * (native/weft-pcap, a Node-API addon built by `npm install` when libpcap's headers are there).
 * It is optional: without it everything works but capturing in-process, and this says why and
 * how to fix it. Capture through dumpcap needs no addon (see live.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface LiveCaptureStatus {
  available: boolean;
  /** Why not, for people (empty when available). */
  reason: string;
  /** What to do about it. */
  fix: string;
}

/** What the addon exports (native/weft-pcap/src/weft_pcap.c). */
export interface PcapBinding {
  open(o: { device: string; filter?: string; snaplen?: number; promiscuous?: boolean; bufferSize?: number; timeoutMs?: number; immediate?: boolean }): unknown;
  linkType(h: unknown): number;
  precision(h: unknown): 'nano' | 'micro';
  start(h: unknown, batch: ArrayBuffer, onBatch: (records: number, bytes: number) => void): void;
  stats(h: unknown): [received: number, dropped: number, interfaceDropped: number];
  close(h: unknown): void;
  devices(): { name: string; description: string; flags: number; addresses: string[] }[];
  libVersion(): string;
}

/**
 * Where the addon is: $WEFT_PCAP_ADDON, else native/weft-pcap/build/Release under the project
 * (two folders up from both main/sources and out/cli), outside app.asar in the packaged app.
 */
export function addonPath(env: NodeJS.ProcessEnv = process.env, here = __dirname): string {
  if (env.WEFT_PCAP_ADDON) return env.WEFT_PCAP_ADDON;
  return join(here, '..', '..', 'native', 'weft-pcap', 'build', 'Release', 'weft_pcap.node').replace(/([\\/])app\.asar([\\/])/, '$1app.asar.unpacked$2');
}

const loaded = new Map<string, PcapBinding>();

/** Loads the addon (once per path); throws with the reason when it cannot. */
export function loadPcapBinding(path = addonPath()): PcapBinding {
  const had = loaded.get(path);
  if (had) return had;
  if (!existsSync(path)) throw new Error(`not built (${path} is missing)`);
  const m = { exports: {} as PcapBinding };
  process.dlopen(m, path);
  loaded.set(path, m.exports);
  return m.exports;
}

export function liveCaptureStatus(load: () => PcapBinding = () => loadPcapBinding()): LiveCaptureStatus {
  try {
    const b = load();
    if (typeof b?.open !== 'function' || typeof b.devices !== 'function') throw new Error('the addon exports no open() and devices()');
    return { available: true, reason: '', fix: '' };
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    return {
      available: false,
      reason: /^not built/.test(msg) ? 'in-process capture unavailable: the libpcap binding was not built (libpcap not found when installing)' : `in-process capture unavailable: the libpcap binding failed to load (${msg.split('\n')[0]})`,
      fix:
        process.platform === 'win32'
          ? 'install Npcap and its SDK (set NPCAP_SDK), then run `npm run build:native`; or capture through dumpcap (Wireshark)'
          : process.platform === 'darwin'
            ? 'install the Xcode command line tools (they include libpcap), then run `npm run build:native`; or capture through dumpcap (Wireshark)'
            : 'install libpcap: `sudo apt-get install libpcap-dev` (Debian/Ubuntu) or `sudo dnf install libpcap-devel`, then run `npm run build:native`; or capture through dumpcap: `sudo apt install wireshark-common`',
    };
  }
}
