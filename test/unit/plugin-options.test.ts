/**
 * Plugin options: declared by each plugin, checked when given (`PLUGIN.NAME=VALUE`), and obeyed
 * by the parsers — bodies, bulk strings, packets, rows and messages kept as the option says.
 */
import { serialize } from 'bson';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { httpPlugin, mongoPlugin, mysqlPlugin, parseOptions, PLUGINS, redisPlugin } from '../../main/engine/protocols';
import { PARSER_HOST } from '../../main/service/pipeline/message-content';
import { captureMessages, feedConversation } from '../helpers/feed-parser';
import { REAL } from '../helpers/fixtures';

describe('plugin options', () => {
  it('every plugin declares its options with defaults inside their bounds', () => {
    for (const p of PLUGINS) {
      expect(p.options.length).toBeGreaterThan(0);
      for (const o of p.options) expect(o.min <= o.default && o.default <= o.max && o.description.length > 10).toBe(true);
    }
  });

  it('PLUGIN.NAME=VALUE is checked: plugin, name, whole number in bounds', () => {
    expect(parseOptions(['http.bodyPreview=65536', 'mysql.firstRows=0', 'mysql.keep=2048'])).toEqual({ http: { bodyPreview: 65536 }, mysql: { firstRows: 0, keep: 2048 } });
    expect(() => parseOptions(['bodyPreview=1'])).toThrow(/PLUGIN\.NAME=VALUE/);
    expect(() => parseOptions(['smtp.x=1'])).toThrow(/no plugin 'smtp'/);
    expect(() => parseOptions(['redis.size=1'])).toThrow(/redis has no option 'size' \(it has: preview\)/);
    expect(() => parseOptions(['redis.preview=1.5'])).toThrow(/whole number from 0 to 1048576, not '1.5'/);
    expect(() => parseOptions(['mysql.keep=10'])).toThrow(/from 1024 to/);
  });

  it('http.bodyPreview and redis.preview: what is kept of a body and of a bulk string', () => {
    const body = 'x'.repeat(100);
    const turns: [0 | 1, Uint8Array][] = [
      [0, Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n')],
      [1, Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n${body}`)],
    ];
    const withPreview = (n: number) => ({ ...httpPlugin, parsers: () => httpPlugin.parsers(undefined, { bodyPreview: n }) });
    expect((feedConversation(withPreview(16), turns)[1].fields.bodyPreview as Uint8Array).length).toBe(16);
    expect(feedConversation(withPreview(0), turns)[1].fields.bodyPreview).toBeUndefined();
    expect((feedConversation(httpPlugin, turns)[1].fields.bodyPreview as Uint8Array).length).toBe(100);
    const bulk: [0 | 1, Uint8Array][] = [[1, Buffer.from(`$100\r\n${body}\r\n`)]];
    const redis = (n?: number) => ({ ...redisPlugin, parsers: () => redisPlugin.parsers(undefined, n === undefined ? undefined : { preview: n }) });
    expect(feedConversation(redis(8), bulk)[0].summary).toBe('"xxxxxxxx…" (100 bytes)');
    expect(feedConversation(redis(), bulk)[0].summary).toBe(`"${'x'.repeat(40)}…" (100 bytes)`);
  });

  it('mysql.firstRows and mysql.keep on the real capture', async () => {
    const run = (options: Record<string, number>) => captureMessages(join(REAL, 'zeek-mysql.pcap'), [mysqlPlugin], { mysql: options });
    const one = (await run({ firstRows: 1 })).find((m) => m.frame === 34)!;
    expect(one.fields).toMatchObject({ rows: 2, firstRows: [['1', 'dog', 'Goofy']] });
    const none = (await run({ firstRows: 0 })).find((m) => m.frame === 34)!;
    expect(none.fields).toMatchObject({ rows: 2, firstRows: [] });
    // a 165-byte CREATE TABLE, kept whole by default: only the first 1,024 bytes would be kept of a longer one
    expect((await run({ keep: 1024 })).find((m) => m.frame === 24)!.fields.sql).toMatch(/^create table foo .* ENGINE = MYISAM$/);
  });

  it('mongodb.keep: a zlib-compressed reply larger than what is kept still decodes its start and names its command', () => {
    const le32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeInt32LE(n);
      return b;
    };
    const message = (op: number, id: number, to: number, body: Buffer) => Buffer.concat([le32(16 + body.length), le32(id), le32(to), le32(op), body]);
    const msg = (id: number, to: number, doc: Record<string, unknown>) => message(2013, id, to, Buffer.concat([le32(0), Buffer.from([0]), Buffer.from(serialize(doc))]));
    const zip = (m: Buffer) => message(2012, m.readInt32LE(4), m.readInt32LE(8), Buffer.concat([le32(2013), le32(m.length - 16), Buffer.from([2]), deflateSync(m.subarray(16))]));
    const big = { cursor: { firstBatch: Array.from({ length: 3000 }, (_, i) => ({ i, pad: 'p'.repeat(40) })), id: 0, ns: 'db.c' }, ok: 1 };
    const turns: [0 | 1, Uint8Array][] = [
      [0, msg(1, 0, { find: 'c', $db: 'db' })],
      [1, zip(msg(2, 1, big))],
    ];
    const keep = (n: number) => ({ ...mongoPlugin, parsers: () => mongoPlugin.parsers(PARSER_HOST, { keep: n }) });
    const small = feedConversation(keep(4096), turns)[1];
    expect(small.summary).toMatch(/^(ok|reply)\b.*\(find db\.c\)$/);
    expect(small.fields.compressed).toMatchObject({ compressor: 'zlib' });
    expect(small.fields.notDecoded).toBeUndefined();
    expect((small.fields.documents as { complete: boolean }[])[0].complete).toBe(false);
    const whole = feedConversation(keep(1 << 20), turns)[1];
    expect(whole.summary).toBe('ok 3000 documents (find db.c)');
    expect((whole.fields.documents as { complete: boolean }[])[0].complete).toBe(true);
  });
});
