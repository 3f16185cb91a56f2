import { describe, expect, it } from 'vitest';
import { seqAdd, seqAtOrBefore, seqBefore, seqDiff, seqMax, seqMin, seqOf, seqWire } from '../../main/engine/reassembly';

describe('sequence arithmetic', () => {
  it('differences are right across the 2^32 wrap', () => {
    expect(seqDiff(0xffffffff, 0)).toBe(1);
    expect(seqDiff(0, 0xffffffff)).toBe(-1);
    expect(seqDiff(0xfffffff6, 5)).toBe(15);
    expect(seqDiff(5, 0xfffffff6)).toBe(-15);
    expect(seqDiff(100, 100)).toBe(0);
    expect(seqDiff(0, 0x7fffffff)).toBe(0x7fffffff);
  });

  it('does not have gopacket v2 Difference bug (0xFFFFFFFF instead of 2^32 at the wrap)', () => {
    // gopacket: Sequence(0xFFFFFFFF).Difference(0) returned 0 (b - a + 0xFFFFFFFF); the truth is 1.
    // A model of gopacket v2's Sequence.Difference, which shifts by uint32Max, not 2^32.
    const M = 0xffffffff;
    const Q = Math.floor(M / 4);
    const gopacketV2 = (s: number, t: number) => {
      if (s > M - Q && t < Q) t += M;
      else if (t > M - Q && s < Q) s += M;
      return t - s;
    };
    expect(gopacketV2(0xffffffff, 0)).toBe(0);
    expect(seqDiff(0xffffffff, 0)).toBe(1);
    for (const [a, b] of [
      [0xfffffff0, 0x10],
      [0xffffffff, 0],
      [0xfffffffe, 1],
    ])
      expect(seqDiff(a, b)).toBe(gopacketV2(a, b) + 1);
  });

  it('adds modulo 2^32 and compares in serial order', () => {
    expect(seqAdd(0xffffffff, 1)).toBe(0);
    expect(seqAdd(0xfffffff5, 11)).toBe(0);
    expect(seqWire(seqAdd(0, -1))).toBe(0xffffffff);
    expect(seqAdd(0, -1)).toBe(-1); // the engine's int32 form
    expect(seqOf(0xffffffff)).toBe(-1);
    expect(seqDiff(seqOf(0xfffffff0), seqOf(0x10))).toBe(32);
    expect(seqBefore(0xffffffff, 0)).toBe(true);
    expect(seqBefore(0, 0xffffffff)).toBe(false);
    expect(seqAtOrBefore(7, 7)).toBe(true);
    expect(seqMax(0xfffffff0, 3)).toBe(3);
    expect(seqMin(seqOf(0xfffffff0), 3)).toBe(seqOf(0xfffffff0));
  });
});
