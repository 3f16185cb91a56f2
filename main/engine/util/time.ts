/** Capture times as text: seconds and nanoseconds, exactly (no float rounding). */

/** `sec.nnnnnnnnn`. */
export function formatTime(sec: number, nsec: number): string {
  return `${sec}.${String(nsec).padStart(9, '0')}`;
}

/** ISO 8601 in UTC with nanoseconds (formatTime's text when the date cannot be shown). */
export function isoTime(sec: number, nsec: number): string {
  const d = new Date(sec * 1000);
  if (Number.isNaN(d.getTime())) return formatTime(sec, nsec);
  return d.toISOString().replace(/\.\d{3}Z$/, `.${String(nsec).padStart(9, '0')}Z`);
}
