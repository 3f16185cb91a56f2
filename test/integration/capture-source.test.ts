/**
 * The Node source: files streamed in chunks with progress and cancellation, any byte stream
 * (stdin, pipes), and errors that name the file.
 */
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PcapWriter } from '../../main/engine/formats';
import { FlowPipeline, runFlows, type Flow } from '../../main/service/pipeline/flow-recorder';
import { readCaptureFile, readCaptureStream, SourceError, type Progress } from '../../main/sources/capture-source';
import { MALFORMED, REAL } from '../helpers/fixtures';

let dir: string;
let big: string;
const PACKETS = 20_000;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'weft-source-'));
  big = join(dir, 'big.pcap');
  const parts: Uint8Array[] = [];
  const w = new PcapWriter((c) => parts.push(c), { linkType: 1 });
  for (let i = 0; i < PACKETS; i++) {
    const data = new Uint8Array(60 + (i % 1400));
    data[0] = i & 0xff;
    w.packet(1_700_000_000 + i, (i * 1000) % 1e9, data);
  }
  writeFileSync(big, Buffer.concat(parts));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('file source', () => {
  it('streams a file in chunks, reporting progress up to the total', async () => {
    const progress: Progress[] = [];
    let frames = 0;
    let lastFrame = 0;
    const r = await readCaptureFile(
      big,
      {
        packet(p) {
          frames++;
          expect(p.frame).toBe(lastFrame + 1);
          expect(p.buf[p.offset]).toBe((p.frame - 1) & 0xff);
          lastFrame = p.frame;
        },
      },
      { chunkSize: 64 * 1024, onProgress: (p) => progress.push({ ...p }) },
    );
    expect(r.error).toBeNull();
    expect(r.cancelled).toBe(false);
    expect(frames).toBe(PACKETS);
    expect(r.packets).toBe(PACKETS);
    expect(progress.length).toBeGreaterThan(100); // many chunks, not one read
    for (let i = 1; i < progress.length; i++) expect(progress[i].bytesDone).toBeGreaterThan(progress[i - 1].bytesDone);
    expect(progress.at(-1)!.bytesDone).toBe(r.bytesTotal);
    expect(progress.every((p) => p.bytesTotal === r.bytesTotal)).toBe(true);
  });

  it('stops when cancelled, keeping what was read', async () => {
    const stop = new AbortController();
    let frames = 0;
    const r = await readCaptureFile(
      big,
      {
        packet() {
          if (++frames === 5000) stop.abort();
        },
      },
      { chunkSize: 64 * 1024, signal: stop.signal },
    );
    expect(r.cancelled).toBe(true);
    expect(r.packets).toBeGreaterThanOrEqual(5000);
    expect(r.packets).toBeLessThan(PACKETS);
    expect(r.bytesDone).toBeLessThan(r.bytesTotal);
  });

  it('awaits afterChunk between chunks (back-pressure for slow consumers)', async () => {
    let chunks = 0;
    let inFlight = false;
    await readCaptureFile(
      big,
      {
        packet() {
          expect(inFlight).toBe(false);
        },
      },
      {
        chunkSize: 256 * 1024,
        afterChunk: async () => {
          inFlight = true;
          await new Promise((r) => setTimeout(r, 1));
          inFlight = false;
          chunks++;
        },
      },
    );
    expect(chunks).toBeGreaterThan(10);
  });

  it('reads any byte stream, e.g. a pipe', async () => {
    const stream = createReadStream(join(REAL, 'zeek-http-cooper-grill-dvwa.pcapng'), { highWaterMark: 333 });
    const r = await readCaptureStream('-', stream, { packet() {} });
    expect(r.error).toBeNull();
    expect(r.format).toBe('pcapng');
    expect(r.packets).toBe(64);
    expect(r.bytesTotal).toBe(-1);
  });

  it('returns damage as a result naming the file, with every packet before it', async () => {
    const f = join(MALFORMED, 'mk-ng-cut-mid-block--zeek-mysql-caching-sha2-after-switch.pcapng');
    let n = 0;
    const r = await readCaptureFile(f, { packet: () => void n++ });
    expect(n).toBe(3);
    expect(r.error?.kind).toBe('truncated');
    expect(r.error?.source).toBe(f);
    expect(r.error?.message).toContain(f);
    expect(r.error?.packetsBefore).toBe(3);
  });

  it('throws SourceError for files it cannot open', async () => {
    await expect(readCaptureFile(join(dir, 'missing.pcap'), { packet() {} })).rejects.toThrow(SourceError);
    await expect(readCaptureFile(dir, { packet() {} })).rejects.toThrow(/not a regular file/);
  });

  it('a source that reuses one Buffer for every chunk (as live capture does) loses nothing kept past a packet', async () => {
    const file = join(REAL, 'zeek-http-cooper-grill-dvwa.pcapng');
    const whole: Flow[] = [];
    await runFlows([file], (f) => whole.push(f), { follow: 1 });
    const bytes = readFileSync(file);
    async function* reused() {
      const buf = Buffer.alloc(700);
      for (let i = 0; i < bytes.length; i += buf.length) {
        const n = bytes.copy(buf, 0, i, i + buf.length);
        yield buf.subarray(0, n); // the same memory every time, overwritten by the next chunk
      }
    }
    const pipe = new FlowPipeline(() => {}, { follow: 1 });
    const seen: boolean[] = [];
    await readCaptureStream('-', reused(), { packet: (p) => (seen.push(Buffer.isBuffer(p.buf)), pipe.packet(p)) });
    pipe.end();
    expect(seen.includes(true)).toBe(false); // packets are plain Uint8Arrays: their slice() copies
    const flows: Flow[] = [];
    const again = new FlowPipeline((f) => flows.push(f), { follow: 1 });
    await readCaptureStream('-', reused(), again);
    again.end();
    // protocol detection keeps the first bytes, --follow keeps every delivery: both intact
    expect(flows.map((f) => [f.protocol, f.sha256])).toEqual(whole.map((f) => [f.protocol, f.sha256]));
    const text = (ds: { bytes: Uint8Array }[]) => Buffer.concat(ds.map((d) => d.bytes)).toString('latin1');
    expect(text(again.followed!)).toBe(text((await runFlows([file], () => {}, { follow: 1 })).followed!.deliveries));
  });
});
