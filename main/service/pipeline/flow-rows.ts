/**
 * `weft flows`' table: the header and a row per connection or UDP conversation (the CLI prints
 * them on one thread; a sharded worker makes its rows itself, shards/flows-task.ts).
 */
import type { UdpFlow } from '../../engine/flows';
import type { Flow } from './flow-recorder';

export function header(): string {
  return ['#'.padStart(5), 'client'.padEnd(28), 'server'.padEnd(28), 'proto'.padEnd(6), 'packets'.padStart(11), 'bytes c2s'.padStart(10), 'bytes s2c'.padStart(10), 'gaps'.padStart(7), 'close'.padEnd(12), 'anomalies'].join(' ');
}

/** A UDP conversation as a table row: the TCP columns, with "udp" for the state's column's neighbours. */
export function udpRow(u: UdpFlow): string {
  return [
    String(u.id).padStart(5),
    u.client.padEnd(28),
    u.server.padEnd(28),
    (u.protocol ?? 'udp').padEnd(6),
    `${u.packets.c2s}/${u.packets.s2c}`.padStart(11),
    String(u.bytes.c2s).padStart(10),
    String(u.bytes.s2c).padStart(10),
    '-'.padStart(7),
    `udp ${u.close}`.padEnd(12),
  ].join(' ');
}

export function row(f: Flow): string {
  const an = Object.entries(f.anomalies)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return [
    String(f.id).padStart(5),
    (f.client + (f.directionInferred ? '?' : '')).padEnd(28),
    f.server.padEnd(28),
    (f.protocol ?? '-').padEnd(6),
    `${f.packets.c2s}/${f.packets.s2c}`.padStart(11),
    String(f.bytes.c2s).padStart(10),
    String(f.bytes.s2c).padStart(10),
    String(f.gaps.c2s + f.gaps.s2c).padStart(7),
    f.close.padEnd(12),
    an || '-',
  ].join(' ');
}

