/**
 * The session spool: bytes of many directions appended interleaved read back exactly, with the
 * provenance of each piece — while their buffers are still being written in the background and
 * after — from any offset; the folder goes away on dispose.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Spool } from '../../main/service/session/spool';

const parent = mkdtempSync(join(tmpdir(), 'weft-spool-test-'));
afterAll(() => rmSync(parent, { recursive: true, force: true }));

/** Deterministic bytes for (connection, direction, offset). */
const byte = (conn: number, dir: number, off: number) => (conn * 31 + dir * 7 + off * 13 + (off >> 8)) & 255;

describe('spool', () => {
  it('reads back interleaved directions exactly, during background writes and after', async () => {
    const spool = new Spool(parent);
    const conns = 40;
    const lengths = new Map<string, number>();
    const frames: { conn: number; dir: 0 | 1; off: number; len: number; frame: number }[] = [];
    let frame = 0;
    // about 6 MiB in pieces of 1..3000 bytes: several 1 MiB buffers, pieces straddling them
    for (let k = 0; k < 4000; k++) {
      const conn = 1 + (k * 7) % conns;
      const dir = (k % 3 === 0 ? 1 : 0) as 0 | 1;
      const key = `${conn}:${dir}`;
      const off = lengths.get(key) ?? 0;
      const len = 1 + ((k * 2654435761) >>> 0) % 3000;
      const b = new Uint8Array(len + 10);
      for (let i = 0; i < len; i++) b[5 + i] = byte(conn, dir, off + i);
      spool.append(conn, dir, b, 5, len, ++frame, 1000 + frame, frame * 10);
      frames.push({ conn, dir, off, len, frame });
      lengths.set(key, off + len);
    }
    const check = () => {
      for (const [key, total] of lengths) {
        const [conn, dir] = key.split(':').map(Number) as [number, 0 | 1];
        const from = Math.floor(total / 3);
        const r = spool.read(conn, dir, from, total);
        expect(r.length).toBe(total);
        expect(r.bytes.length).toBe(total - from);
        for (let i = 0; i < r.bytes.length; i++) if (r.bytes[i] !== byte(conn, dir, from + i)) throw new Error(`${key} byte ${from + i}`);
        // provenance: runs cover the range in order, each with its piece's frame and time
        let at = from;
        for (const p of r.provenance) {
          expect(p.offset).toBe(at);
          const piece = frames.find((f) => f.conn === conn && f.dir === dir && f.off <= p.offset && p.offset < f.off + f.len)!;
          expect([p.frame, p.tsSec, p.tsNsec]).toEqual([piece.frame, 1000 + piece.frame, piece.frame * 10]);
          at += p.length;
        }
        expect(at).toBe(total);
      }
    };
    check(); // right away: part of it is still in memory, being written
    await new Promise((r) => setTimeout(r, 200));
    check(); // written
    expect(spool.read(999, 0, 0, 10)).toEqual({ bytes: new Uint8Array(0), provenance: [], length: 0 });
    spool.dispose();
    await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(spool.dir)).toBe(false);
  });
});

describe('spool search', () => {
  it('finds bytes across pieces and 4 MiB windows, forward and back, with the frame they came from', () => {
    const spool = new Spool(parent);
    try {
      // 9 MiB in one direction, pieces of 1,000 bytes; a marker straddling two pieces and the 4 MiB window edge
      const total = 9 << 20;
      const marker = new TextEncoder().encode('NEEDLE-0123456789');
      const at = [5, (4 << 20) - 8, 8_000_123];
      const data = new Uint8Array(total).fill(0x2e);
      for (const a of at) data.set(marker, a);
      for (let o = 0, f = 1; o < total; o += 1000, f++) spool.append(1, 0, data, o, Math.min(1000, total - o), f, 1000, 0);
      spool.append(1, 1, new TextEncoder().encode('reply NEEDLE-0123456789'), 0, 23, 999_999, 1000, 0);
      const found: number[] = [];
      for (let h = spool.search(1, 0, marker, 0); h; h = spool.search(1, 0, marker, h.offset + 1)) {
        expect(h.frame).toBe(Math.floor(h.offset / 1000) + 1);
        found.push(h.offset);
      }
      expect(found).toEqual(at);
      const back: number[] = [];
      for (let h = spool.search(1, 0, marker, total + 1, true); h; h = spool.search(1, 0, marker, h.offset, true)) back.push(h.offset);
      expect(back).toEqual([...at].reverse());
      expect(spool.search(1, 1, marker, 0)).toEqual({ offset: 6, frame: 999_999 });
      expect(spool.search(1, 0, new TextEncoder().encode('absent'), 0)).toBeNull();
      expect(spool.offsetAtFrame(1, 0, 4000)).toBe(3999 * 1000);
    } finally {
      spool.dispose();
    }
  }, 60_000);
});
