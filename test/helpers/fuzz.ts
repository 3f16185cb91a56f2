/**
 * Mutational fuzzing of the capture readers and decoders with a fixed seed: real captures are
 * mutated (byte flips, interesting 32-bit values, cuts, splices, inserted garbage), read in random
 * chunk sizes and every packet decoded. Anything thrown other than CaptureFormatError is a bug.
 */
import { CaptureReader, type CaptureFormatError } from '../../main/engine/formats';
import { pushChunks } from './read-all';
import { PacketDecoder, Transport } from '../../main/engine/decode';

export function rng(seed: number): () => number {
  let a = seed >>> 0 || 1;
  return () => {
    // xorshift32
    a ^= a << 13;
    a >>>= 0;
    a ^= a >>> 17;
    a ^= a << 5;
    a >>>= 0;
    return a / 4294967296;
  };
}

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff, 12, 16, 24, 28, 32];

export function mutate(src: Uint8Array, r: () => number): Uint8Array {
  let b = src.slice();
  const n = 1 + Math.floor(r() * 4);
  for (let k = 0; k < n; k++) {
    const at = Math.floor(r() * b.length);
    switch (Math.floor(r() * 6)) {
      case 0: // flip bits in a few bytes
        for (let i = 0; i < 1 + r() * 8; i++) b[(at + i) % b.length] ^= 1 << Math.floor(r() * 8);
        break;
      case 1: {
        // an interesting 32-bit value, either byte order
        const v = INTERESTING[Math.floor(r() * INTERESTING.length)];
        const le = r() < 0.5;
        for (let i = 0; i < 4 && at + i < b.length; i++) b[at + i] = le ? (v >>> (8 * i)) & 0xff : (v >>> (24 - 8 * i)) & 0xff;
        break;
      }
      case 2: // cut
        b = b.slice(0, at);
        break;
      case 3: {
        // delete a slice
        const len = Math.floor(r() * 64);
        b = new Uint8Array([...b.subarray(0, at), ...b.subarray(at + len)]);
        break;
      }
      case 4: {
        // insert random bytes
        const junk = Uint8Array.from({ length: Math.floor(r() * 32) }, () => Math.floor(r() * 256));
        b = new Uint8Array([...b.subarray(0, at), ...junk, ...b.subarray(at)]);
        break;
      }
      default: {
        // duplicate a slice (repeated records, overlapping lengths)
        const len = Math.floor(r() * 200);
        b = new Uint8Array([...b.subarray(0, at + len), ...b.subarray(at, at + len), ...b.subarray(at + len)]);
      }
    }
    if (b.length === 0) break;
  }
  return b;
}

export interface FuzzOutcome {
  packets: number;
  error: CaptureFormatError | null;
}

/** Reads and decodes `bytes` in chunks chosen by `r`; throws only on a bug. */
export function readAndDecode(bytes: Uint8Array, r: () => number): FuzzOutcome {
  const dec = new PacketDecoder({ verifyChecksums: true, defrag: { maxBytes: 1 << 20 } });
  const reader = new CaptureReader({
    packet(p) {
      const d = dec.decode(p);
      if (d.transport === Transport.TCP) {
        d.tcp.parseOptions();
        if (d.payloadCaptured > d.payloadLength || d.payloadOffset + d.payloadCaptured > d.buf.length)
          throw new Error(`payload outside the packet (frame ${p.frame})`);
      }
      if (p.offset + p.capLen > p.buf.length) throw new Error(`packet outside its buffer (frame ${p.frame})`);
    },
  });
  const error = pushChunks(reader, bytes, () => 1 + Math.floor(r() * r() * 4096));
  return { packets: reader.packets, error };
}
