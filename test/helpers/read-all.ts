import { CaptureFormatError, CaptureReader, packetBytes, type CapturedPacket, type InterfaceInfo } from '../../main/engine/formats';

export interface Copied {
  frame: number;
  tsSec: number;
  tsNsec: number;
  ifIndex: number;
  linkType: number;
  origLen: number;
  fileOffset: number;
  data: Uint8Array;
}

export function copyPacket(p: CapturedPacket): Copied {
  return {
    frame: p.frame,
    tsSec: p.tsSec,
    tsNsec: p.tsNsec,
    ifIndex: p.ifIndex,
    linkType: p.linkType,
    origLen: p.origLen,
    fileOffset: p.fileOffset,
    data: packetBytes(p).slice(),
  };
}

/** Reads a whole capture from bytes, pushed in chunks of `chunk` bytes (or sizes from a function). */
export function readAll(
  bytes: Uint8Array,
  chunk: number | ((i: number) => number) = bytes.length || 1,
): { packets: Copied[]; error: CaptureFormatError | null; reader: CaptureReader; interfaces: InterfaceInfo[] } {
  const packets: Copied[] = [];
  const reader = new CaptureReader({ packet: (p) => packets.push(copyPacket(p)) });
  const error = pushChunks(reader, bytes, typeof chunk === 'number' ? () => chunk : chunk);
  return { packets, error, reader, interfaces: reader.interfaces };
}

/**
 * Pushes `bytes` into `reader` in chunks of sizeOf(i) bytes, then ends it. Returns the
 * CaptureFormatError that stopped it, or null; anything else thrown is a bug and propagates.
 */
export function pushChunks(reader: CaptureReader, bytes: Uint8Array, sizeOf: (i: number) => number): CaptureFormatError | null {
  try {
    let pos = 0;
    let i = 0;
    while (pos < bytes.length) {
      const n = Math.max(1, sizeOf(i++));
      reader.push(bytes.subarray(pos, pos + n));
      pos += n;
    }
    reader.end();
    return null;
  } catch (e) {
    if (!(e instanceof CaptureFormatError)) throw e;
    return e;
  }
}
