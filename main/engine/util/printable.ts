/**
 * Bytes as text a person can read: printable ASCII, line feeds and tabs as they are, carriage
 * returns dropped, anything else as `other`. The stream pane, the protocol tab, conflict notes and
 * `weft flows --print` all show bytes this way. (The renderer imports this file too.)
 */
export function printable(b: ArrayLike<number>, other = '·'): string {
  let s = '';
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    s += c === 10 || c === 9 || (c >= 32 && c < 127) ? String.fromCharCode(c) : c === 13 ? '' : other;
  }
  return s;
}
