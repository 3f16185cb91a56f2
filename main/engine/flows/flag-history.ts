/**
 * Zeek's conn.log `history` and `conn_state` from the TCP flags each side sent. A few numbers per
 * connection: the flags seen from each side, which letters were written (a bit each), and the
 * history itself as base-16 digits (HISTORY_LETTERS' index of each letter, the first the lowest),
 * which grow only when a letter appears for the first time (at most 12 in a connection's life) —
 * nothing is allocated per packet, and the string is made only when asked for.
 */

// letter bits: client S H A D F R in bits 0..5, server s h a d f r in bits 8..13
const S = 0, H = 1, A = 2, D = 3, F = 4, R = 5;
/** The history's letters: the client's in upper case, the server's in lower case. */
export const HISTORY_LETTERS = 'SHADFRshadfr';

/** The letters of a history held as digits (historyCode) and its length. */
export function historyOf(code: number, length: number): string {
  let h = '';
  for (let k = 0; k < length; k++) {
    h += HISTORY_LETTERS[code % 16];
    code = Math.floor(code / 16);
  }
  return h;
}

export class FlagHistory {
  /** Flags seen from the client (orig) and the server (resp). */
  flags0 = 0;
  flags1 = 0;
  private letters = 0;
  /** The history as base-16 digits, the first letter the lowest (12 digits at most: exact in a double). */
  historyCode = 0;
  historyLength = 0;
  private scale = 1;

  /** Zeek's history letters, first occurrence each. */
  get history(): string {
    return historyOf(this.historyCode, this.historyLength);
  }

  /** A packet from `dir` (0 client, 1 server) with TCP `flags` and `payload` bytes. */
  add(dir: 0 | 1, flags: number, payload: number): void {
    if (dir === 0) this.flags0 |= flags;
    else this.flags1 |= flags;
    const syn = flags & 2, ack = flags & 16, fin = flags & 1, rst = flags & 4;
    if (syn) this.letter(dir, ack ? H : S);
    else if (ack && payload === 0 && !fin && !rst) this.letter(dir, A);
    if (payload > 0) this.letter(dir, D);
    if (fin) this.letter(dir, F);
    if (rst) this.letter(dir, R);
  }

  private letter(dir: 0 | 1, l: number): void {
    const bit = 1 << (l + (dir << 3));
    if (this.letters & bit) return;
    this.letters |= bit;
    this.historyCode += (l + 6 * dir) * this.scale;
    this.scale *= 16;
    this.historyLength++;
  }

  /** Zeek's conn_state from what each side sent. */
  state(): string {
    return connState(this.flags0, this.flags1);
  }
}

/** Zeek's conn_state (S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR, OTH) from each side's flags. */
export function connState(o: number, r: number): string {
  const oSyn = (o & 2) !== 0;
  const rSynAck = (r & 2) !== 0;
  const oFin = (o & 1) !== 0, rFin = (r & 1) !== 0, oRst = (o & 4) !== 0, rRst = (r & 4) !== 0;
  if (oSyn && !rSynAck) {
    if (rRst) return 'REJ';
    if (oRst) return 'RSTOS0';
    if (oFin) return 'SH';
    return 'S0';
  }
  if (!oSyn && rSynAck) {
    if (rRst) return 'RSTRH';
    if (rFin) return 'SHR';
  }
  if (oSyn && rSynAck) {
    if (oRst) return 'RSTO';
    if (rRst) return 'RSTR';
    if (oFin && rFin) return 'SF';
    if (oFin) return 'S2';
    if (rFin) return 'S3';
    return 'S1';
  }
  if (oRst) return 'RSTO';
  if (rRst) return 'RSTR';
  return 'OTH';
}
