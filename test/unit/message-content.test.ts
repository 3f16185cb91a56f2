/**
 * The service layer's share of protocol parsing: HTTP content codings decoded with node's zlib
 * (whole bodies, bodies cut at the preview, chained codings, damaged data), end to end through a
 * capture file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { httpPlugin } from '../../main/engine/protocols';
import { decodeBody, FIELD_DEPTH, jsonSafe } from '../../main/service/pipeline/message-content';
import { runMessages, type MessageRecord } from '../../main/service/pipeline/messages';
import { writeConversationPcap } from '../helpers/conversation-pcap';

const page = Buffer.from(Array.from({ length: 400 }, (_, i) => `<li>item ${i} — ünïcode</li>\n`).join(''));

describe('HTTP content codings', () => {
  it('gzip, x-gzip, deflate (zlib and raw), br, and two codings in a row', () => {
    const cases: [string, Buffer][] = [
      ['gzip', gzipSync(page)],
      ['x-gzip', gzipSync(page)],
      ['deflate', deflateSync(page)],
      ['deflate', deflateRawSync(page)],
      ['br', brotliCompressSync(page)],
      ['gzip, br', brotliCompressSync(gzipSync(page))],
      ['identity, gzip', gzipSync(page)],
    ];
    for (const [coding, body] of cases) {
      const d = decodeBody(coding, body, true)!;
      expect({ coding, text: d.text, complete: d.complete, length: d.length }).toEqual({ coding, text: page.toString(), complete: true, length: page.length });
    }
    expect(decodeBody('identity', page, true)).toBeNull();
    expect(decodeBody('compress', page, true)).toBeNull();
  });

  it('a body cut short decodes as far as it goes; damaged data says why; binary comes out as base64', () => {
    const z = gzipSync(page);
    const cut = decodeBody('gzip', z.subarray(0, Math.floor(z.length / 2)), false)!;
    expect(cut.complete).toBe(false);
    expect(cut.text!.length).toBeGreaterThan(100);
    expect(page.toString().startsWith(cut.text!)).toBe(true);
    const bad = decodeBody('gzip', Buffer.from('definitely not gzip'), true)!;
    expect(bad).toMatchObject({ complete: false, length: 0 });
    expect(bad.error).toMatch(/^gzip: /);
    const bin = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x81]);
    expect(decodeBody('gzip', gzipSync(bin), true)).toMatchObject({ base64: bin.toString('base64'), complete: true });
  });

  it('a body that decodes past 256 KiB is cut there, its text kept (gzip, deflate, br, and a bomb)', () => {
    const long = Buffer.from(Array.from({ length: 30_000 }, (_, i) => `<p>line ${i}</p>\n`).join(''));
    expect(long.length).toBeGreaterThan(256 * 1024);
    for (const [coding, body] of [
      ['gzip', gzipSync(long)],
      ['deflate', deflateSync(long)],
      ['br', brotliCompressSync(long)],
    ] as [string, Buffer][]) {
      const d = decodeBody(coding, body, true)!;
      expect(d.error, coding).toBeUndefined();
      expect(d.complete, coding).toBe(false);
      expect(d.length, coding).toBeGreaterThan(200 * 1024);
      expect(d.length, coding).toBeLessThanOrEqual(256 * 1024);
      expect(long.toString().startsWith(d.text!), coding).toBe(true);
    }
    // 10 KB that would become 100 MB
    const bomb = decodeBody('gzip', gzipSync(Buffer.alloc(100 << 20, 0x41)), true)!;
    expect(bomb.error).toBeUndefined();
    expect(bomb.text!.length).toBeGreaterThan(200 * 1024);
    expect(bomb.text!.length).toBeLessThanOrEqual(256 * 1024);
  });

  it('fields nested deeper than 64 levels are cut there, whatever the depth', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const safe = jsonSafe({ reply: deep });
    let d = 0;
    let v: unknown = safe.reply;
    while (Array.isArray(v)) {
      v = v[0];
      d++;
    }
    expect(d).toBe(FIELD_DEPTH - 1);
    expect(v).toBe(`… nested deeper than ${FIELD_DEPTH} levels`);
    expect(() => JSON.stringify(safe)).not.toThrow();
  });

  it('through a capture file: the response body decoded, the request paired', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-http-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const z = gzipSync(page);
    const chunked = Buffer.concat([Buffer.from(`${(600).toString(16)}\r\n`), z.subarray(0, 600), Buffer.from(`\r\n${(z.length - 600).toString(16)}\r\n`), z.subarray(600), Buffer.from('\r\n0\r\n\r\n')]);
    const turns: [0 | 1, Uint8Array][] = [
      [0, Buffer.from('GET /list HTTP/1.1\r\nHost: example.test\r\nAccept-Encoding: gzip, br\r\n\r\n')],
      [1, Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n'), chunked])],
      [0, Buffer.from('GET /small HTTP/1.1\r\nHost: example.test\r\n\r\n')],
      [1, Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: ${brotliCompressSync(Buffer.from('hello')).length}\r\n\r\n`), brotliCompressSync(Buffer.from('hello'))])],
    ];
    const file = join(dir, 'http.pcap');
    writeConversationPcap(file, turns, [50123, 8080], 500);
    const ms: MessageRecord[] = [];
    await runMessages([file], (m) => ms.push(m), [httpPlugin]);
    expect(ms.map((m) => m.summary)).toEqual(['GET /list HTTP/1.1', 'HTTP/1.1 200 OK (GET /list)', 'GET /small HTTP/1.1', 'HTTP/1.1 200 OK (GET /small)']);
    // the engine keeps 4 KiB of the (de-chunked) encoded body: here all of it
    expect(ms[1].fields.decodedBody).toEqual({ encoding: 'gzip', complete: true, length: page.length, text: page.toString() });
    expect(ms[3].fields.decodedBody).toEqual({ encoding: 'br', complete: true, length: 5, text: 'hello' });
    expect(ms[0].fields.decodedBody).toBeUndefined();
  });

  it("on a long connection every message keeps its first byte's frame (old frame marks are dropped as messages pass)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-long-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const turns: [0 | 1, Uint8Array][] = [];
    for (let i = 0; i < 400; i++) {
      turns.push([0, Buffer.from(`GET /item/${i} HTTP/1.1\r\nHost: a\r\n\r\n`)]);
      turns.push([1, Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${String(i).length}\r\n\r\n${i}`)]);
    }
    const file = join(dir, 'long.pcap');
    writeConversationPcap(file, turns, [40000, 80]);
    const ms: MessageRecord[] = [];
    await runMessages([file], (m) => ms.push(m), [httpPlugin]);
    expect(ms.length).toBe(800);
    // one packet per turn after the three of the handshake: turn i is frame 4 + i
    expect(ms.every((m, i) => m.frame === 4 + i)).toBe(true);
    expect(ms.at(-1)!.summary).toBe('HTTP/1.1 200 OK (GET /item/399)');
  });
});
