/**
 * HAR 1.2 export: every real HTTP capture exports to a file that validates against the HAR 1.2
 * JSON schema (the har-schema package), one entry per request; bodies decoded, timings and
 * cookies right on a conversation built for it; written whole or not at all.
 */
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { httpPlugin } from '../../main/engine/protocols';
import { runMessages } from '../../main/service/pipeline/messages';
import { writeConversationPcap } from '../helpers/conversation-pcap';
import { captureFiles, REAL } from '../helpers/fixtures';

const BIN = join(__dirname, '..', '..', 'bin', 'weft.cjs');
const tmp = mkdtempSync(join(tmpdir(), 'weft-har-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function weft(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function harValidator() {
  const dir = join(__dirname, '..', '..', 'node_modules', 'har-schema', 'lib');
  // har-schema is draft-06 and uses a few keywords of its own ("min", "optional"): not strict;
  // formats (date-time, ipv4/ipv6 for serverIPAddress) are checked
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addMetaSchema(JSON.parse(readFileSync(join(__dirname, '..', '..', 'node_modules', 'ajv', 'dist', 'refs', 'json-schema-draft-06.json'), 'utf8')));
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json'))) ajv.addSchema(JSON.parse(readFileSync(join(dir, f), 'utf8')));
  return ajv.getSchema('har.json#')!;
}

describe('weft export --format har', () => {
  const validate = harValidator();

  it('every real capture with HTTP: a valid HAR 1.2 file with an entry per request', async () => {
    let checked = 0;
    for (const f of captureFiles(REAL)) {
      const requests: string[] = [];
      await runMessages([join(REAL, f)], (m) => m.kind === 'request' && requests.push(m.summary), [httpPlugin]);
      if (requests.length === 0) continue;
      const out = join(tmp, 'real', f); // a folder each: an export into a folder with files goes into a new one inside it
      const r = weft('export', join(REAL, f), '--format', 'har', '--out', out);
      expect([0, 2]).toContain(r.code); // 2: a damaged capture, exported up to the damage
      const har = JSON.parse(readFileSync(join(out, f.replace(/\.(pcapng|pcap)$/, '.har')), 'utf8'));
      const ok = validate(har);
      expect({ f, ok, errors: validate.errors ?? null }).toEqual({ f, ok: true, errors: null });
      expect(har.log.entries.map((e: { request: { method: string } }) => e.request.method).sort()).toEqual(requests.map((s) => s.split(' ')[0]).sort());
      checked++;
    }
    expect(checked).toBeGreaterThan(15);
    expect(readdirSync(join(tmp, 'real')).filter((x) => x.endsWith('.part'))).toEqual([]);
  });

  it('fields a HAR reader relies on: url, query, cookies, decoded content with its compression, timings, status 0 when unanswered', () => {
    const page = Buffer.from('<h1>orders</h1>\n'.repeat(100));
    const z = gzipSync(page);
    const file = join(tmp, 'shop.pcap');
    writeConversationPcap(
      file,
      [
        [0, Buffer.from('POST /api/orders?lang=en&q=a%20b HTTP/1.1\r\nHost: shop.test\r\nCookie: sid=42; theme=dark\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{"qty":5}')],
        [1, Buffer.concat([Buffer.from(`HTTP/1.1 201 Created\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nSet-Cookie: cart=7; Path=/\r\nLocation: /api/orders/7\r\nContent-Length: ${z.length}\r\n\r\n`), z])],
        [0, Buffer.from('GET /never HTTP/1.1\r\nHost: shop.test\r\n\r\n')],
      ],
      [50000, 80],
    );
    const r = weft('export', file, '--format', 'har', '--out', join(tmp, 'shop'));
    expect(r.code).toBe(0);
    expect(r.out).toContain(join(tmp, 'shop', 'shop.har'));
    const har = JSON.parse(readFileSync(join(tmp, 'shop', 'shop.har'), 'utf8'));
    expect([validate(har), validate.errors ?? null]).toEqual([true, null]);
    const [post, never] = har.log.entries;
    expect(post.request).toMatchObject({
      method: 'POST',
      url: 'http://shop.test/api/orders?lang=en&q=a%20b',
      queryString: [{ name: 'lang', value: 'en' }, { name: 'q', value: 'a b' }],
      cookies: [{ name: 'sid', value: '42' }, { name: 'theme', value: 'dark' }],
      postData: { mimeType: 'application/json', text: '{"qty":5}' },
      bodySize: 9,
    });
    expect(post.response).toMatchObject({
      status: 201,
      statusText: 'Created',
      cookies: [{ name: 'cart', value: '7' }],
      redirectURL: '/api/orders/7',
      content: { size: page.length, compression: page.length - z.length, mimeType: 'text/html', text: page.toString() },
      bodySize: z.length,
    });
    expect(post.timings).toEqual({ send: 0, wait: 1, receive: 0 }); // one packet a millisecond
    expect(post.startedDateTime).toBe('2023-11-14T22:13:20.003Z');
    expect(post.serverIPAddress).toBe('10.0.0.2');
    expect(never.response).toMatchObject({ status: 0, comment: 'no response in the capture' });
  });

  it('a failed export leaves no file behind, not even a partial one', () => {
    const out = join(tmp, 'failed');
    const r = weft('export', join(REAL, 'zeek-http-get.pcap'), join(tmp, 'missing.pcap'), '--format', 'har', '--out', out);
    expect(r.code).toBe(2);
    expect(r.err).toContain('missing.pcap');
    expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
    expect(weft('export', join(REAL, 'zeek-http-get.pcap'), '--format', 'csv2', '--out', out).err).toMatch(/--format takes a comma-separated list of: .*\(not 'csv2'\)/);
  });
});
