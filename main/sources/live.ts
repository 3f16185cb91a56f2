/**
 * Which way a live capture is taken, and the device list and filter check that go with it.
 *
 * `auto` (the default) captures in this process when it has the rights (root, a container) and
 * Weft's libpcap binding is built (native/weft-pcap: kernel timestamps and lengths, and the
 * kernel's drop counters while capturing); otherwise through dumpcap, as Wireshark does: the
 * rights are on dumpcap alone, and it writes what the kernel saw (kernel timestamps in
 * nanoseconds, original lengths, the kernel's drop count when it stops).
 * `WEFT_CAPTURE_VIA=dumpcap|libpcap` or `--via` choose one.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { DumpcapCapture, dumpcapDevices, dumpcapError, findDumpcap, SyncPipeReader } from './dumpcap-source';
import { checkFilter as inProcessCheckFilter, listDevices as inProcessDevices, LiveCapture, LiveCaptureError, type CaptureVia, type DeviceInfo, type LiveOptions, type LiveSource } from './live-source';
import { liveCaptureStatus } from './live-status';

export type ViaChoice = CaptureVia | 'auto';

export function parseVia(s: string | undefined): ViaChoice {
  if (s === undefined || s === '' || s === 'auto') return 'auto';
  if (s === 'dumpcap' || s === 'libpcap') return s;
  throw new LiveCaptureError('failed', `unknown capture path '${s}'`, 'use --via dumpcap, --via libpcap or --via auto');
}

/** Whether this process may capture itself: CAP_NET_RAW in its effective set (root has it). */
export function canCaptureHere(status = '/proc/self/status'): boolean {
  if (process.platform !== 'linux') return process.getuid?.() === 0;
  try {
    const m = /^CapEff:\s*([0-9a-f]+)/im.exec(readFileSync(status, 'utf8'));
    return m !== null && (BigInt(`0x${m[1]}`) & (1n << 13n)) !== 0n; // CAP_NET_RAW is 13
  } catch {
    return false;
  }
}

/**
 * The path `choice` resolves to here, or why there is none. `auto`: in-process when this
 * process has the rights and the binding is built (root, a container: no helper, and the
 * kernel's drop counters while capturing), else dumpcap, which holds them.
 */
export function resolveVia(choice: ViaChoice = parseVia(process.env.WEFT_CAPTURE_VIA)): CaptureVia {
  if (choice !== 'auto') return choice;
  const inProcess = liveCaptureStatus().available;
  if (inProcess && canCaptureHere()) return 'libpcap';
  if (findDumpcap()) return 'dumpcap';
  if (inProcess) return 'libpcap';
  throw new LiveCaptureError(
    'unavailable',
    'live capture unavailable: neither dumpcap nor the libpcap binding is installed',
    "install dumpcap (sudo apt install wireshark-common; it holds the capture rights, so Weft needs none), or libpcap-dev and then 'npm run build:native'",
  );
}

export function openLive(o: LiveOptions, choice?: ViaChoice): LiveSource {
  return resolveVia(choice) === 'dumpcap' ? new DumpcapCapture(o) : new LiveCapture(o);
}

const run = (exe: string, args: string[]) => execFileSync(exe, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });

export function listLiveDevices(choice?: ViaChoice): DeviceInfo[] {
  if (resolveVia(choice) === 'dumpcap') return dumpcapDevices(findDumpcap()!, run);
  return inProcessDevices();
}

/** Checks a BPF filter on a device; returns the compiler's message, or null when it compiles. */
export function checkLiveFilter(device: string, filter: string, choice?: ViaChoice): string | null {
  if (resolveVia(choice) === 'libpcap') return inProcessCheckFilter(device, filter);
  const o = { device, filter };
  // -d prints the compiled program; in child mode a filter that does not compile is a 'B' record
  // on standard error (and dumpcap still exits 0), a device it cannot open an 'E' record
  const r = spawnSync(findDumpcap()!, ['-Z', 'none', '-i', device, '-f', filter, '-d'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
  for (const rec of new SyncPipeReader().push(r.stderr ?? Buffer.alloc(0))) {
    const err = dumpcapError(rec, o);
    if (err.kind === 'bad-filter') return err.message;
    if (rec.type === 'E') throw err;
  }
  if (r.status === 0) return null;
  throw new LiveCaptureError('failed', `cannot check the filter on ${device}: dumpcap ${r.error ? r.error.message : `exited with ${r.status ?? r.signal}`}`);
}
