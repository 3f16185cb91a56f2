/**
 * Reads a file as a sequence of chunks with the next read already in flight while the caller
 * works on the current chunk (two buffers, alternating). Without the overlap, a single-threaded
 * reader idles for every read; with it, reading and decoding proceed together.
 *
 * Each yielded chunk is valid until the generator is resumed twice more (its buffer is then
 * reused), so consumers must finish with a chunk's bytes before asking for the chunk after next.
 * Capture readers qualify: they process every chunk synchronously.
 */
import type { FileHandle } from 'node:fs/promises';

export async function* fileChunks(fh: FileHandle, chunkSize: number, onError: (e: unknown) => Error): AsyncGenerator<Uint8Array> {
  const bufs = [new Uint8Array(chunkSize), new Uint8Array(chunkSize)];
  let pos = 0;
  let which = 0;
  const read = (b: Uint8Array, at: number) => fh.read(b, 0, b.length, at).then((r) => r.bytesRead);
  let pending: Promise<number> = read(bufs[0], 0);
  for (;;) {
    let n: number;
    try {
      n = await pending;
    } catch (e) {
      throw onError(e);
    }
    if (n === 0) return;
    const cur = bufs[which];
    pos += n;
    which ^= 1;
    pending = read(bufs[which], pos);
    // Keep the in-flight read from becoming an unhandled rejection if the consumer stops early.
    pending.catch(() => undefined);
    yield cur.subarray(0, n);
  }
}
