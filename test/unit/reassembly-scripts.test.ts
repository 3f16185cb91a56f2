/**
 * Reassembly scripts (STYLE.md §6): segments with letter payloads so you can see which copy won,
 * each replayed at ISN 0, 1, 2^32−1 and 2^32−11.
 */
import { describe, expect, it } from 'vitest';
import { HANDSHAKE, ISNS, run, type RunResult, type Step } from '../helpers/tcp-script';

interface Case {
  name: string;
  steps: Step[];
  c2s?: string;
  s2c?: string;
  opts?: Parameters<typeof run>[2];
  end?: boolean;
  check?: (r: RunResult) => void;
}

const c = (seq: number, data: string, extra: Partial<Step> = {}): Step => ({ from: 'c', seq, data, ...extra });
const an = (r: RunResult, dir: 0 | 1) => r.conns[0].halves[dir].anomalyObject();

const cases: Case[] = [
  { name: 'in order', steps: [...HANDSHAKE, c(1, 'AAA'), c(4, 'BBB')], c2s: 'AAABBB', check: (r) => expect(an(r, 0)).toEqual({}) },
  {
    name: 'out of order is buffered and delivered when the hole fills',
    steps: [...HANDSHAKE, c(4, 'BBB'), c(7, 'CCC'), c(1, 'AAA')],
    c2s: 'AAABBBCCC',
    check: (r) => {
      expect(an(r, 0)).toEqual({ 'out-of-order': 2 });
      const d = r.deliveries.filter((x) => x.dir === 0 && x.text);
      expect(d).toHaveLength(1); // one scatter-gather: the packet and two pages
      expect(d[0].frames).toEqual([6, 4, 5]);
    },
  },
  { name: 'identical retransmission', steps: [...HANDSHAKE, c(1, 'AAA'), c(1, 'AAA'), c(4, 'BB')], c2s: 'AAABB', check: (r) => expect(an(r, 0)).toEqual({ retransmission: 1 }) },
  {
    name: 'buffered overlap, policy first: the first copy wins, the conflict is kept',
    steps: [...HANDSHAKE, c(3, 'BBBB'), c(3, 'CCCCCC'), c(1, 'AA')],
    c2s: 'AABBBBCC',
    check: (r) => {
      expect(an(r, 0)).toMatchObject({ 'conflicting-overlap': 1, overlap: 1 });
      const cf = r.conns[0].halves[0].conflicts[0];
      expect(Buffer.from(cf.kept).toString()).toBe('BBBB');
      expect(Buffer.from(cf.other).toString()).toBe('CCCC');
    },
  },
  { name: 'buffered overlap, policy last: the last copy wins', steps: [...HANDSHAKE, c(3, 'BBBB'), c(3, 'CCCCCC'), c(1, 'AA')], opts: { overlapPolicy: 'last' }, c2s: 'AACCCCCC' },
  {
    name: 'an in-order segment wins over buffered bytes it covers (tshark, Linux)',
    steps: [...HANDSHAKE, c(4, 'BBB'), c(1, 'AAAAAA'), c(7, 'CC')],
    c2s: 'AAAAAACC',
    check: (r) => expect(an(r, 0)).toMatchObject({ 'conflicting-overlap': 1 }),
  },
  { name: 'overlap with delivered data: delivered bytes stand', steps: [...HANDSHAKE, c(1, 'AAAA'), c(3, 'XXBBBB')], c2s: 'AAAABBBB', check: (r) => expect(an(r, 0)).toEqual({ overlap: 1 }) },
  {
    name: 'with a delivered window, a conflicting retransmission of delivered bytes is caught',
    steps: [...HANDSHAKE, c(1, 'AAAA'), c(3, 'XXBBBB')],
    opts: { deliveredWindow: 64 },
    c2s: 'AAAABBBB',
    check: (r) => {
      expect(an(r, 0)).toEqual({ overlap: 1, 'conflicting-overlap': 1 });
      const cf = r.conns[0].halves[0].conflicts[0];
      expect([Buffer.from(cf.kept).toString(), Buffer.from(cf.other).toString()]).toEqual(['AA', 'XX']);
    },
  },
  {
    name: 'a hole never filled is skipped at the end, as metadata',
    steps: [...HANDSHAKE, c(1, 'AAA'), c(7, 'CCC')],
    c2s: 'AAACCC',
    check: (r) => {
      expect(r.conns[0].halves[0].gaps).toEqual([{ offset: 3, length: 3, cause: 'end-of-input' }]);
      expect(r.deliveries.find((d) => d.text === 'CCC')?.skip).toBe(3);
    },
  },
  {
    name: 'a hole the receiver acknowledged is skipped at once (not captured)',
    steps: [...HANDSHAKE, c(1, 'AAA'), c(7, 'CCC'), { from: 's', ack: 10 }, c(10, 'DDD')],
    end: false,
    c2s: 'AAACCCDDD',
    check: (r) => expect(r.conns[0].halves[0].gaps).toEqual([{ offset: 3, length: 3, cause: 'not-captured' }]),
  },
  {
    name: 'a segment and the ACK covering it captured in reverse order lose nothing',
    steps: [...HANDSHAKE, c(4, 'BBB'), { from: 's', ack: 7 }, c(1, 'AAA')],
    end: false,
    c2s: 'AAABBB',
    check: (r) => expect(r.conns[0].halves[0].gaps).toEqual([]),
  },
  {
    name: 'an acknowledged hole a later segment starts in is filled by it, not skipped',
    // AAA, then CCC and EEE beyond holes, the peer acknowledges all, then the segment that starts
    // in the second hole arrives: only the first hole (never seen) is a gap.
    steps: [...HANDSHAKE, c(1, 'AAA'), c(7, 'CCC'), c(13, 'EEE'), { from: 's', ack: 16 }, c(10, 'DDD'), c(16, 'FFF')],
    end: false,
    c2s: 'AAACCCDDDEEEFFF',
    check: (r) => expect(r.conns[0].halves[0].gaps).toEqual([{ offset: 3, length: 3, cause: 'not-captured' }]),
  },
  {
    name: 'an ACK for bytes not yet seen, carried by a reordered segment, skips nothing',
    // The server's second reply (carrying an ACK for the client's second request) is captured
    // before its first; the client's data then comes out of order: every byte is still delivered.
    steps: [...HANDSHAKE, { from: 's', seq: 4, data: 'bbb', ack: 9 }, { from: 's', seq: 1, data: 'aaa', ack: 1 }, c(4, 'DDDDD', { ack: 7 }), c(1, 'CCC', { ack: 7 })],
    end: false,
    c2s: 'CCCDDDDD',
    s2c: 'aaabbb',
    check: (r) => expect(r.conns[0].halves[0].gaps).toEqual([]),
  },
  {
    name: 'an ACK ahead of the bytes seen counts for the segment that starts where it points (capture loss)',
    steps: [...HANDSHAKE, c(1, 'AAA'), { from: 's', ack: 10 }, c(10, 'DDD')],
    end: false,
    c2s: 'AAADDD',
    check: (r) => expect(r.conns[0].halves[0].gaps).toEqual([{ offset: 3, length: 6, cause: 'not-captured' }]),
  },
  {
    name: 'bytes below a mid-stream start, seen after it (a late SYN with data): their own anomaly and a gap in front, not a retransmission',
    steps: [c(10, 'WXYZ'), { from: 'c', seq: -1, flags: 'S', data: '0123456789' }, c(0, '0123456789'), c(14, 'more')],
    end: false,
    c2s: 'WXYZmore',
    check: (r) => {
      const h = r.conns[0].halves[0];
      expect(h.gaps).toEqual([{ offset: 0, length: 10, cause: 'before-start' }]);
      expect(h.anomalyObject()).toMatchObject({ 'before-start': 1, gap: 1, retransmission: 1 }); // the copy is a retransmission
      expect(h.anomalyObject()).not.toHaveProperty('data-before-isn');
    },
  },
  {
    name: "a RST's payload below a mid-stream start is before-start too, the part at the start a retransmission",
    steps: [c(10, 'WXYZ'), c(6, 'abcdWX', { flags: 'RA' })],
    end: false,
    c2s: 'WXYZ',
    check: (r) => {
      const h = r.conns[0].halves[0];
      expect(h.gaps).toEqual([{ offset: 0, length: 4, cause: 'before-start' }]);
      expect(h.anomalyObject()).toMatchObject({ 'before-start': 1, retransmission: 1, 'rst-with-data': 1 });
    },
  },
  {
    name: 'mid-stream start: delivered at once, skip −1, flagged',
    steps: [c(100, 'MID'), c(103, 'DLE'), { from: 's', seq: 50, data: 'ok' }],
    end: false,
    c2s: 'MIDDLE',
    s2c: 'ok',
    check: (r) => {
      expect(r.deliveries[0]).toMatchObject({ start: true, skip: -1 });
      expect(r.deliveries[1]).toMatchObject({ start: false, skip: 0 });
      expect(an(r, 0)).toEqual({ 'missing-handshake': 1 });
      expect(r.conns[0].directionInferred).toBe(true);
    },
  },
  {
    name: 'FIN takes effect at its sequence position',
    steps: [...HANDSHAKE, c(1, 'AAA'), c(7, '', { flags: 'FA' }), { from: 's', flags: 'FA', seq: 1 }, c(4, 'BBB')],
    end: false,
    c2s: 'AAABBB',
    check: (r) => {
      expect(r.complete).toEqual(['fin']);
      const last = r.deliveries.filter((d) => d.dir === 0).at(-1)!;
      expect(last).toMatchObject({ text: 'BBB', end: true });
    },
  },
  { name: 'RST closes at once', steps: [...HANDSHAKE, c(1, 'AAA'), { from: 's', flags: 'RA', seq: 1 }], end: false, c2s: 'AAA', check: (r) => expect(r.complete).toEqual(['rst']) },
  {
    name: 'a RST outside the window (injected) is ignored',
    steps: [...HANDSHAKE, c(1, 'AAA'), { from: 's', flags: 'R', seq: 5000000 }, c(4, 'BBB')],
    end: false,
    c2s: 'AAABBB',
    check: (r) => {
      expect(r.complete).toEqual([]);
      expect(an(r, 1)).toEqual({ 'ignored-rst': 1 });
    },
  },
  { name: 'RST carrying data', steps: [...HANDSHAKE, c(1, 'BYE', { flags: 'RA' })], end: false, c2s: 'BYE', check: (r) => expect(an(r, 0)).toEqual({ 'rst-with-data': 1 }) },
  { name: 'data on the SYN (TCP Fast Open)', steps: [{ from: 'c', flags: 'S', data: 'HELLO' }, { from: 's', flags: 'SA' }, c(6, 'MORE')], c2s: 'HELLOMORE' },
  { name: 'data after FIN', steps: [...HANDSHAKE, c(1, 'AAA', { flags: 'FA' }), c(5, 'ZZZ')], c2s: 'AAA', check: (r) => expect(an(r, 0)).toEqual({ 'data-after-fin': 1 }) },
  { name: 'data before the ISN', steps: [...HANDSHAKE, c(-5, 'QQQ'), c(1, 'AAA')], c2s: 'AAA', check: (r) => expect(an(r, 0)).toEqual({ 'data-before-isn': 1 }) },
  {
    name: 'snaplen-truncated payload: the missing tail is a gap, never garbage',
    steps: [...HANDSHAKE, c(1, 'AAAAAA', { captured: 3 }), c(7, 'BBB')],
    c2s: 'AAABBB',
    check: (r) => {
      expect(r.conns[0].halves[0].gaps).toEqual([{ offset: 3, length: 3, cause: 'truncated' }]);
      expect(an(r, 0)).toMatchObject({ 'truncated-payload': 1 });
    },
  },
  {
    name: 'a truncated segment is completed by its retransmission',
    steps: [...HANDSHAKE, c(1, 'AAAAAA', { captured: 3 }), c(1, 'AAAAAA'), c(7, 'BB')],
    c2s: 'AAAAAABB',
    check: (r) => expect(r.conns[0].halves[0].gaps).toEqual([]),
  },
  { name: 'urgent data is ordinary stream data', steps: [...HANDSHAKE, c(1, 'AB!', { flags: 'UA' }), c(4, 'CD')], c2s: 'AB!CD' },
  {
    name: 'segment larger than any MSS (TSO/GRO)',
    steps: [...HANDSHAKE, c(1, 'X'.repeat(70000)), c(70001, 'end')],
    check: (r) => expect(r.c2s.length).toBe(70003),
  },
  {
    name: 'port reuse: a new SYN after close starts a new connection',
    steps: [
      ...HANDSHAKE,
      c(1, 'ONE', { flags: 'FPA' }),
      { from: 's', flags: 'FA', seq: 1 },
      { from: 'c', flags: 'A', seq: 5, ack: 2 },
      { from: 'c', flags: 'S', seq: 0x5000, ack: 0 },
      { from: 's', flags: 'SA', seq: 0x9000, ack: 0x5001 },
      c(0x5001, 'TWO', { ack: 0x9001 }),
    ],
    check: (r) => {
      expect(r.conns).toHaveLength(2);
      expect(r.complete).toEqual(['fin', 'end-of-input']);
      expect(r.deliveries.filter((d) => d.dir === 0 && d.text).map((d) => d.text)).toEqual(['ONE', 'TWO']);
    },
  },
  {
    name: 'the final ACK after both FINs does not create a ghost connection',
    steps: [...HANDSHAKE, c(1, 'A', { flags: 'FA' }), { from: 's', flags: 'FA', seq: 1, ack: 3 }, { from: 'c', flags: 'A', seq: 3, ack: 2 }, c(1, 'A', { flags: 'FA' })],
    check: (r) => {
      expect(r.conns).toHaveLength(1);
      expect(r.asm.stats.tombstoneHits).toBe(2);
    },
  },
];

describe('reassembly scripts', () => {
  for (const k of cases) {
    for (const isn of ISNS) {
      it(`${k.name} (ISN ${isn})`, () => {
        const r = run(isn, k.steps, k.opts, k.end ?? true);
        if (k.c2s !== undefined) expect(r.c2s).toBe(k.c2s);
        if (k.s2c !== undefined) expect(r.s2c).toBe(k.s2c);
        k.check?.(r);
      });
    }
  }
});
