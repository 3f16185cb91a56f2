/**
 * Target-based overlap policies (segments.ts), with letter payloads at the four ISNs: a held
 * segment "AAAA" (sequence 3..7) and a new one of B's overlapping it every way a segment can —
 * starting at, before or after it, ending before, at or after it — both held behind a hole that
 * "h" fills last. Which policies take the new bytes in each case is written out here from Novak
 * and Sturges' table as Suricata implements it (src/stream-tcp-list.c), not computed by the code
 * under test.
 */
import { describe, expect, it } from 'vitest';
import { OVERLAP_POLICIES, type OverlapPolicy } from '../../main/engine/reassembly';
import { HANDSHAKE, ISNS, run, type Step } from '../helpers/tcp-script';

const LINUXES: OverlapPolicy[] = ['linux', 'old-linux'];
const BEFORE: OverlapPolicy[] = ['bsd', 'hpux10', 'irix', 'windows', 'old-linux', 'linux', 'macos'];
const SOLARIS: OverlapPolicy[] = ['solaris', 'hpux11'];

// [case, new segment's start and length, the policies whose new bytes win]
const CASES: [string, number, number, OverlapPolicy[]][] = [
  ['same start, ends after', 3, 6, [...LINUXES, ...SOLARIS, 'last']],
  ['same start and end', 3, 4, ['old-linux', ...SOLARIS, 'last']],
  ['same start, ends inside', 3, 2, ['last']],
  ['starts before, ends after', 2, 7, [...BEFORE, ...SOLARIS, 'last']],
  ['starts before, ends at its end', 2, 5, [...BEFORE, ...SOLARIS, 'last']],
  ['starts before, ends inside', 2, 3, [...BEFORE, 'last']],
  ['starts after, ends after', 5, 4, [...SOLARIS, 'last']],
  ['starts after, ends at its end', 5, 2, ['last']],
  ['starts inside, ends inside', 4, 2, ['last']],
];

const c = (seq: number, data: string): Step => ({ from: 'c', seq, data });

/** The client's bytes from sequence 1 when "AAAA" at 3 and B's at [s, s+n) meet and `newWins` says who stays. */
function expected(s: number, n: number, wins: boolean): string {
  let out = 'h';
  for (let q = 2; q < Math.max(7, s + n); q++) {
    const a = q >= 3 && q < 7;
    const b = q >= s && q < s + n;
    out += a && b ? (wins ? 'B' : 'A') : a ? 'A' : b ? 'B' : '?';
  }
  return out;
}

describe('target-based overlap policies', () => {
  it('has the thirteen policies of the classic table', () => {
    expect(OVERLAP_POLICIES).toEqual(['first', 'last', 'linux', 'old-linux', 'bsd', 'bsd-right', 'windows', 'vista', 'solaris', 'hpux10', 'hpux11', 'irix', 'macos']);
  });

  for (const [name, s, n, winners] of CASES)
    for (const isn of ISNS)
      it(`${name} (ISN ${isn}): new bytes win for ${winners.join(', ')}`, () => {
        for (const policy of OVERLAP_POLICIES) {
          // the hole at 1 (or at 2 when the new segment starts there) keeps both segments held
          const steps = [...HANDSHAKE, c(3, 'AAAA'), c(s, 'B'.repeat(n)), c(1, s === 2 ? 'h' : 'h?')];
          const want = expected(s, n, winners.includes(policy)).replace('?', s === 2 ? 'B' : '?');
          const r = run(isn, steps, { overlapPolicy: policy });
          expect({ policy, c2s: r.c2s }).toEqual({ policy, c2s: want });
          // the differing bytes are a conflict, whichever copy stayed
          expect(r.conns[0].halves[0].anomalyObject()['conflicting-overlap'], policy).toBe(1);
        }
      });

  it('a segment arriving in order over held bytes goes through the target table (first and last: the in-order segment wins, as tshark shows it)', () => {
    for (const isn of ISNS)
      for (const policy of OVERLAP_POLICIES) {
        // "h" and "?" are delivered; "AAAA" at 3 is held; B's from 3 to 9 arrive in order at 3
        const r = run(isn, [...HANDSHAKE, c(1, 'h?'), c(4, 'AAAA'), c(3, 'BBBBBBB')], { overlapPolicy: policy });
        // the new segment starts before the held one and ends after it
        const wins = policy === 'first' || policy === 'last' || [...BEFORE, ...SOLARIS].includes(policy);
        expect({ policy, isn, c2s: r.c2s }).toEqual({ policy, isn, c2s: wins ? 'h?BBBBBBB' : 'h?BAAAABB' });
      }
  });
});
