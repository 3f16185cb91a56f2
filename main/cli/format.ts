/** Small text helpers shared by CLI commands. */

export { formatTime, isoTime } from '../engine/util/time';

const FLAG_LETTERS: [number, string][] = [
  [0x02, 'S'],
  [0x01, 'F'],
  [0x04, 'R'],
  [0x08, 'P'],
  [0x20, 'U'],
  [0x40, 'E'],
  [0x80, 'W'],
  [0x100, 'N'],
  [0x10, '.'],
];

/** tcpdump-style flag letters: S F R P U E W N and '.' for ACK. */
export function tcpFlagString(flags: number): string {
  let s = '';
  for (const [bit, ch] of FLAG_LETTERS) if (flags & bit) s += ch;
  return s || 'none';
}

export function hostPort(version: number, addr: string, port: number): string {
  return version === 6 ? `[${addr}]:${port}` : `${addr}:${port}`;
}

export function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}
