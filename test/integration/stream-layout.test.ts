/**
 * The stream pane's rows (StreamLayout over the spool): the rows of each direction, joined, are
 * exactly its delivered bytes; text rows end at a line feed or at the wrap width and never cross
 * a turn; marks sit where their offsets say; a layout extended as the flow grows equals one built
 * at the end; the row of any byte is found; 24 MiB of text lay out and page in bounded time.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Spool } from '../../main/service/session/spool';
import { StreamLayout, type Mark } from '../../main/service/session/stream-layout';

const spools: Spool[] = [];
afterAll(() => spools.forEach((s) => s.dispose()));

function rnd(seed: number) {
  let x = seed >>> 0 || 1;
  return () => ((x = (x * 1103515245 + 12345) >>> 0) >>> 8) / (1 << 24);
}

/** A conversation of `turns` turns, pieces of random text (lines of 0..300 bytes) and binary. */
function conversation(seed: number, turns: number) {
  const r = rnd(seed);
  const spool = new Spool();
  spools.push(spool);
  const sent: [number[], number[]] = [[], []];
  let frame = 1;
  const steps: (() => void)[] = [];
  for (let t = 0; t < turns; t++) {
    const dir = (t % 2) as 0 | 1;
    const pieces = 1 + Math.floor(r() * 5);
    for (let p = 0; p < pieces; p++) {
      const n = 1 + Math.floor(r() * 2000);
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = r() < 0.01 ? 10 : r() < 0.05 ? Math.floor(r() * 256) : 97 + Math.floor(r() * 26);
      const f = frame++;
      steps.push(() => {
        spool.append(1, dir, b, 0, n, f, 100, f);
        sent[dir].push(...b);
      });
    }
  }
  return { spool, sent, steps };
}

function joined(l: StreamLayout): [number[], number[], ReturnType<StreamLayout['read']>] {
  const rows = l.read(0, l.rows);
  const out: [number[], number[]] = [[], []];
  for (const row of rows) if (row.kind === 'data') out[row.dir].push(...Buffer.from(row.data, 'base64'));
  return [out[0], out[1], rows];
}

describe('stream layout', () => {
  for (const view of ['text', 'hex'] as const) {
    it(`${view}: rows join to each direction's bytes, built at once or as the flow grows`, () => {
      const { spool, sent, steps } = conversation(7, 40);
      const grown = new StreamLayout(spool, 1, view, 80);
      const none: [Mark[], Mark[]] = [[], []];
      for (const [i, s] of steps.entries()) {
        s();
        if (i % 3 === 0) grown.update(none);
      }
      grown.update(none);
      const once = new StreamLayout(spool, 1, view, 80);
      once.update(none);
      expect(grown.rows).toBe(once.rows);
      const [a, b, rows] = joined(once);
      expect(a).toEqual(sent[0]);
      expect(b).toEqual(sent[1]);
      expect(joined(grown)[2]).toEqual(rows);
      for (const row of rows) {
        const bytes = Buffer.from(row.data, 'base64');
        if (view === 'hex') expect(bytes.length).toBeLessThanOrEqual(16);
        else {
          expect(bytes.length).toBeLessThanOrEqual(80);
          // a line feed only at the end of a row
          expect(bytes.subarray(0, -1).includes(10)).toBe(false);
        }
        // provenance covers the row exactly
        expect(row.provenance.reduce((n, p) => n + p.length, 0)).toBe(row.length);
        expect(row.provenance[0].offset).toBe(row.offset);
      }
      // the row of a byte holds it
      const r = rnd(3);
      for (let i = 0; i < 200; i++) {
        const dir = (i % 2) as 0 | 1;
        const off = Math.floor(r() * sent[dir].length);
        const k = once.rowOf(dir, off);
        const row = once.read(k, 1)[0];
        expect(row.dir).toBe(dir);
        expect(off).toBeGreaterThanOrEqual(row.offset);
        expect(off).toBeLessThan(row.offset + row.length);
      }
      // pages equal the whole read in pieces
      const paged = [];
      for (let f = 0; f < once.rows; f += 37) paged.push(...once.read(f, 37));
      expect(paged).toEqual(rows);
    });
  }

  it('marks are rows of their own, after the piece holding their offset, or at the end', () => {
    const { spool, sent, steps } = conversation(11, 6);
    steps.forEach((s) => s());
    const marks: [Mark[], Mark[]] = [
      [{ offset: 0, kind: 'gap', text: 'gap at 0', title: '' }, { offset: sent[0].length, kind: 'gap', text: 'gap at end', title: '' }],
      [{ offset: 5, kind: 'conflict', text: 'conflict', title: 'kept/other' }],
    ];
    const l = new StreamLayout(spool, 1, 'text', 200);
    l.update(marks);
    const rows = l.read(0, l.rows);
    const kinds = rows.filter((r) => r.kind !== 'data').map((r) => r.text);
    expect(kinds).toEqual(['gap at 0', 'conflict', 'gap at end']);
    expect(rows[0].text).toBe('gap at 0');
    expect(rows.at(-1)!.text).toBe('gap at end');
    const c = rows.findIndex((r) => r.kind === 'conflict');
    // the conflict follows the piece holding its offset (5), before the server's next bytes
    expect(rows.slice(0, c).some((r) => r.dir === 1 && r.offset <= 5 && r.offset + r.length > 5)).toBe(true);
    const next = rows.slice(c + 1).find((r) => r.dir === 1 && r.kind === 'data')!;
    expect(next.offset).toBeGreaterThan(5);
  });

  it('24 MiB of text in one turn: laid out once, any page read from a checkpoint', () => {
    const spool = new Spool();
    spools.push(spool);
    const line = Buffer.from('x'.repeat(99) + '\n');
    const chunk = Buffer.concat(Array.from({ length: 1 << 10 }, () => line)); // 100 KiB
    for (let i = 0; i < 240; i++) spool.append(1, 1, chunk, 0, chunk.length, i + 1, 0, 0);
    const l = new StreamLayout(spool, 1, 'text', 120);
    l.update([[], []]);
    expect(l.rows).toBe(240 * 1024);
    const last = l.read(l.rows - 3, 10);
    expect(last.length).toBe(3);
    expect(last[2].offset).toBe(240 * chunk.length - 100);
    expect(l.rowOf(1, 12_345_678)).toBe(Math.floor(12_345_678 / 100));
    // wrapped: lines of 100 bytes at 64 make two rows each
    const w = new StreamLayout(spool, 1, 'text', 64);
    w.update([[], []]);
    expect(w.rows).toBe(2 * 240 * 1024);
    expect(w.read(1, 1)[0].length).toBe(36);
  });
});
