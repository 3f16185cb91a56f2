import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PacketDecoder } from '../../main/engine/decode/decoder';
import { DEFAULT_DEFRAG } from '../../main/engine/decode/defrag';
import { newCapturedPacket } from '../../main/engine/formats/types';
import { ContentWriter } from '../../main/service/export/export';
import { ipv4 } from '../helpers/packet-builder';

// The slice keeps a copy of every fragment frame the decoder holds, until its datagram completes.
// A capture of fragments that never complete must not make those copies grow without bound.
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function writer(): ContentWriter {
  const dir = mkdtempSync(join(tmpdir(), 'weft-frag-'));
  dirs.push(dir);
  return new ContentWriter(dir, new Set(['pcapng']), new Map(), { frame: () => {}, message: null });
}

function feed(w: ContentWriter, dec: PacketDecoder, frame: Uint8Array, n: number): void {
  const p = newCapturedPacket();
  p.frame = n;
  p.linkType = 101;
  p.buf = frame;
  p.capLen = p.origLen = frame.length;
  const d = dec.decodeBytes(101, frame, 0, frame.length, 0);
  expect(d.fragmentHeld).toBe(true);
  w.frame(p, d, 0);
}

describe('export: held IP fragments are bounded', () => {
  const body = new Uint8Array(1400).fill(0x41);

  it('by bytes: 40,000 copies of one first fragment (56 MB) hold at most twice the decoder limit', () => {
    const w = writer();
    const dec = new PacketDecoder();
    const frag = ipv4({ id: 7, mf: true, fragOffset: 0, proto: 6 }, body);
    let most = 0;
    for (let i = 0; i < 40_000; i++) {
      feed(w, dec, frag, i + 1);
      most = Math.max(most, w.heldFragments.bytes);
    }
    expect(most).toBeLessThanOrEqual(2 * DEFAULT_DEFRAG.maxBytes);
    expect(most).toBeGreaterThan(DEFAULT_DEFRAG.maxBytes); // the bound is what stops it, not the input
  });

  it('by datagrams: 10,000 stray first fragments hold at most as many datagrams as the decoder', () => {
    const w = writer();
    const dec = new PacketDecoder();
    for (let i = 0; i < 10_000; i++) feed(w, dec, ipv4({ id: i, mf: true, fragOffset: 0, proto: 6 }, body.subarray(0, 64)), i + 1);
    expect(w.heldFragments.datagrams).toBe(DEFAULT_DEFRAG.maxDatagrams);
    expect(w.heldFragments.bytes).toBe(DEFAULT_DEFRAG.maxDatagrams * (20 + 64));
  });
});
