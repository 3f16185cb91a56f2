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
  let error: CaptureFormatError | null = null;
  try {
    let pos = 0;
    let i = 0;
    while (pos < bytes.length) {
      const n = Math.max(1, typeof chunk === 'number' ? chunk : chunk(i++));
      reader.push(bytes.subarray(pos, pos + n));
      pos += n;
    }
    reader.end();
  } catch (e) {
    if (!(e instanceof CaptureFormatError)) throw e;
    error = e;
  }
  return { packets, error, reader, interfaces: reader.interfaces };
}
