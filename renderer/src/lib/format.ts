export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const u = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${u[i]}`;
}

export function duration(s: number): string {
  if (s < 1) return `${(s * 1000).toFixed(0)} ms`;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)}m${Math.round(s % 60)}s`;
}

export function time(sec: number, nsec = 0): string {
  const d = new Date(sec * 1000);
  return `${d.toISOString().slice(11, 19)}.${String(Math.floor(nsec / 1000)).padStart(6, '0')}`;
}

export function decodeBase64(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Bits per second, as networks count (1000-based): 12.3 Mbit/s. */
export function bitRate(bps: number): string {
  if (bps <= 0) return '–';
  const u = ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s', 'Tbit/s'];
  let v = bps;
  let i = 0;
  while (v >= 1000 && i < u.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 && i > 0 ? 1 : 0)} ${u[i]}`;
}

/** Seconds since a start: +1.234567 under a minute, +12:03.456 under an hour, +5:12:03, +3d 05:12:03. */
export function relative(s: number): string {
  if (s < 60) return `+${s.toFixed(6)}`;
  const p2 = (n: number) => String(Math.floor(n)).padStart(2, '0');
  if (s < 3600) return `+${Math.floor(s / 60)}:${p2(s % 60)}.${String(Math.floor((s % 1) * 1000)).padStart(3, '0')}`;
  if (s < 86400) return `+${Math.floor(s / 3600)}:${p2((s % 3600) / 60)}:${p2(s % 60)}`;
  return `+${Math.floor(s / 86400)}d ${p2((s % 86400) / 3600)}:${p2((s % 3600) / 60)}:${p2(s % 60)}`;
}

/** Capture time with milliseconds and the date when it is not today's (a tooltip gives it all). */
export function startTime(sec: number): string {
  const d = new Date(sec * 1000);
  return `${d.toISOString().slice(11, 23)}`;
}
