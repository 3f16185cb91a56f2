/**
 * Zeek's conn.log `history` and `conn_state` from the TCP flags each side sent. Four numbers per
 * connection: the flags seen from each side, which letters were written (a bit each), and the
 * history string itself, which grows only when a letter appears for the first time (at most 12
 * times in a connection's life) — nothing is allocated or case-converted per packet.
 */

// letter bits: client S H A D F R in bits 0..5, server s h a d f r in bits 8..13
const S = 0, H = 1, A = 2, D = 3, F = 4, R = 5;
const LETTERS = 'SHADFR';
const LOWER = 'shadfr';

export class FlagHistory {
  history = '';
  /** Flags seen from the client (orig) and the server (resp). */
  flags0 = 0;
  flags1 = 0;
  private letters = 0;

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
    this.history += dir === 0 ? LETTERS[l] : LOWER[l];
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
