/**
 * Streaming capture input for Node: a file of any size (read in fixed chunks into two reused
 * buffers, never loaded whole; see file-chunks.ts), or any async stream of bytes (stdin, a pipe). Packets go to a
 * PacketSink synchronously, as views into the current chunk (see engine/formats/types.ts):
 * the sink must finish with a packet before it returns.
 *
 * Damage does not lose what was good: every packet before it is delivered, and the result carries
 * the CaptureFormatError (file name, byte offset) instead of throwing it. Errors opening or reading
 * the file itself (missing, unreadable, a directory) are thrown as SourceError.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { fileChunks } from './file-chunks';
import { CaptureFormatError, CaptureReader, type CaptureFormat, type InterfaceInfo, type PacketSink, type ReaderAnomalies } from '../engine/formats';

export interface Progress {
  bytesDone: number;
  /** Total size when known (files), else -1 (streams). */
  bytesTotal: number;
  packets: number;
}

export interface ReadOptions {
  /** Chunk size for file reads (default 4 MiB; larger chunks mean fewer async hops per byte). */
  chunkSize?: number;
  /** Stops reading between chunks; the result then has `cancelled: true`. */
  signal?: AbortSignal;
  /** Called after every chunk (at most once per chunk). */
  onProgress?: (p: Progress) => void;
  /** Awaited after every chunk: lets a consumer flush output or yield before more is read. */
  afterChunk?: () => Promise<void> | void;
}

export interface ReadResult {
  source: string;
  format: CaptureFormat | null;
  bytesTotal: number;
  bytesDone: number;
  packets: number;
  /** pcapng sections read (pcap: 1). */
  sections: number;
  interfaces: InterfaceInfo[];
  readerAnomalies: ReaderAnomalies;
  /** Set when the input is damaged; every packet before `error.offset` was delivered. */
  error: CaptureFormatError | null;
  cancelled: boolean;
}

export class SourceError extends Error {
  override readonly name = 'SourceError';
  constructor(
    readonly source: string,
    message: string,
    readonly code?: string,
  ) {
    super(`${source}: ${message}`);
  }
}

const DEFAULT_CHUNK = 4 << 20;

/** How a file is read as chunks (fileChunks, or straight into shared memory: shards/). */
export type ChunkSource = (fh: FileHandle, chunkSize: number, onError: (e: unknown) => Error) => AsyncIterable<Uint8Array>;

/** Reads a capture file from disk in chunks. */
export async function readCaptureFile(path: string, sink: PacketSink, opts: ReadOptions = {}, chunks: ChunkSource = fileChunks): Promise<ReadResult> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw fsError(path, e);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new SourceError(path, 'not a regular file (give the path of a .pcap or .pcapng file)');
    const total = st.size;
    const chunkSize = Math.max(4096, opts.chunkSize ?? DEFAULT_CHUNK);
    return await readCaptureStream(path, chunks(fh, chunkSize, (e) => fsError(path, e)), sink, opts, total);
  } finally {
    await fh.close();
  }
}

/** Reads a capture from any async sequence of byte chunks (stdin, a pipe, a socket). */
export async function readCaptureStream(
  source: string,
  chunks: AsyncIterable<Uint8Array>,
  sink: PacketSink,
  opts: ReadOptions = {},
  bytesTotal = -1,
): Promise<ReadResult> {
  const reader = new CaptureReader(sink);
  const result: ReadResult = {
    source,
    format: null,
    bytesTotal,
    bytesDone: 0,
    packets: 0,
    sections: 0,
    interfaces: reader.interfaces,
    readerAnomalies: reader.anomalies,
    error: null,
    cancelled: false,
  };
  const finish = (): ReadResult => {
    result.format = reader.format;
    result.packets = reader.packets;
    result.sections = reader.sections;
    result.interfaces = reader.interfaces;
    result.readerAnomalies = reader.anomalies;
    return result;
  };
  try {
    for await (const chunk of chunks) {
      if (opts.signal?.aborted) {
        result.cancelled = true;
        return finish();
      }
      // packets are views of the chunk: never a Buffer, whose slice() would be a view, not a copy
      reader.push(Buffer.isBuffer(chunk) ? new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length) : chunk);
      result.bytesDone += chunk.length;
      opts.onProgress?.({ bytesDone: result.bytesDone, bytesTotal, packets: reader.packets });
      if (opts.afterChunk) await opts.afterChunk();
    }
    if (opts.signal?.aborted) {
      result.cancelled = true;
      return finish();
    }
    reader.end();
  } catch (e) {
    if (e instanceof CaptureFormatError) {
      e.packetsBefore = reader.packets;
      result.error = e.withSource(source);
    } else throw e;
  }
  return finish();
}

function fsError(path: string, e: unknown): SourceError {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'ENOENT':
      return new SourceError(path, 'no such file', err.code);
    case 'EACCES':
    case 'EPERM':
      return new SourceError(path, 'permission denied (check the file permissions)', err.code);
    case 'EISDIR':
      return new SourceError(path, 'is a directory (give the path of a .pcap or .pcapng file)', err.code);
    default:
      return new SourceError(path, err.message ?? String(e), err.code);
  }
}
