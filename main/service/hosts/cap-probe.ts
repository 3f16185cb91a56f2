/**
 * A short-lived process that asks the capture path (dumpcap when installed, else libpcap through
 * `cap`) for the device list or whether a filter compiles, prints one JSON result and exits. Kept
 * out of the engine on purpose: a cap handle whose open() failed can crash the process that owns
 * it, and that must never be the engine.
 *
 *   node out/cli/cap-probe.cjs devices
 *   node out/cli/cap-probe.cjs filter DEVICE FILTER
 */
import { checkLiveFilter, listLiveDevices } from '../../sources/live';

function answer(): unknown {
  try {
    const [what, device, filter] = process.argv.slice(2);
    if (what === 'devices') return { ok: true, value: listLiveDevices() };
    if (what === 'filter') {
      const msg = checkLiveFilter(device ?? '', filter ?? '');
      return msg === null ? { ok: true, value: null } : { ok: false, error: msg };
    }
    return { ok: false, error: `cap-probe: unknown request '${what}'` };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

process.stdout.write(JSON.stringify(answer()) + '\n', () => process.exit(0));
