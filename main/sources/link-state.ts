import { existsSync, readFileSync } from 'node:fs';

/**
 * Up (IFF_UP, set by the administrator) and running (up with a carrier: the link works) from
 * /sys/class/net on Linux. `any` and the pseudo-devices (nflog, dbus, usbmon…) have no entry
 * there: they can always be captured on, so they are up and running.
 */
export function linkState(name: string): { up: boolean; running: boolean } {
  const dir = `/sys/class/net/${name}`;
  if (!/^[\w.:@-]+$/.test(name) || !existsSync(`${dir}/flags`)) return { up: true, running: true };
  try {
    const up = (Number.parseInt(readFileSync(`${dir}/flags`, 'utf8').trim(), 16) & 0x1) !== 0;
    let carrier = false;
    try {
      carrier = readFileSync(`${dir}/carrier`, 'utf8').trim() === '1';
    } catch {
      // a device that is down has no carrier to read (EINVAL)
    }
    return { up, running: up && carrier };
  } catch {
    return { up: true, running: true };
  }
}
