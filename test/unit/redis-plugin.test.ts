/**
 * The Redis plugin: commands and replies paired on the real captures, RESP3 types, inline
 * commands, big values counted not copied, any cut, gaps.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { redisPlugin, type ProtocolMessage, type RespValue } from '../../main/engine/protocols';
import { RESP_KEPT_VALUES, RESP_MAX_DEPTH } from '../../main/engine/protocols/redis';
import { captureMessages, feedParser, fuzzPlugin, parsePluginCapture } from '../helpers/feed-parser';
import { REAL } from '../helpers/fixtures';
import { retainedHeap } from '../helpers/heap';

const messages = (file: string) => captureMessages(join(REAL, file), [redisPlugin]);

describe('Redis on the real captures', () => {
  it('pipelined PINGs get their PONGs', async () => {
    const ms = await messages('zeek-redis-pipelining.pcap');
    expect(ms.filter((m) => m.kind === 'command').map((m) => m.summary)).toEqual(['PING', 'PING', 'PING']);
    expect(ms.filter((m) => m.kind === 'reply').map((m) => m.summary)).toEqual(['PONG (PING)', 'PONG (PING)', 'PONG (PING)']);
  });

  it('inline commands and their replies (tcpdump resp_2_inline)', async () => {
    const ms = await messages('tcpdump-resp-2-inline-sll.pcap');
    const cmds = ms.filter((m) => m.kind === 'command');
    expect(cmds[0]).toMatchObject({ summary: 'SET test 1', start: 0, end: 12, fields: { inline: true, command: 'SET' } });
    expect(cmds.map((m) => m.fields.command)).toContain('LRANGE');
    const replies = ms.filter((m) => m.kind === 'reply');
    expect(replies.length).toBe(cmds.length);
    expect(replies.find((r) => r.fields.command === 'LRANGE')!.summary).toMatch(/^array of \d+ \(LRANGE\)$/);
  });

  it('a capture that starts with a server reply leaves that reply unpaired', async () => {
    const ms = await messages('zeek-redis-start-with-server.pcapng');
    expect(ms.map((m) => m.summary)).toEqual(['OK', 'SET hello there', 'OK (SET)']);
  });

  it('a 237 KB reply and 500/1000-byte values: counted, previewed, byte ranges exact', async () => {
    const ms = await messages('zeek-redis-large-requests-responses.pcap');
    const big = ms.find((m) => m.kind === 'reply' && m.fields.command === 'COMMAND')!;
    expect(big.end - big.start).toBe(237526);
    expect((big.fields.value as RespValue).items!.length).toBe(544);
    const get = ms.filter((m) => m.kind === 'reply' && m.fields.command === 'GET');
    expect(get.map((m) => (m.fields.value as RespValue).length)).toEqual([500, 1000]);
    expect((get[0].fields.value as RespValue).text!.length).toBeLessThanOrEqual(64); // a preview, not the value
  });
});

const feed = (data: string, dir: 0 | 1, size: (k: number) => number, ps = redisPlugin.parsers()) =>
  feedParser(ps, dir, Buffer.from(data, 'latin1'), size);

describe('the real Redis streams, cut anywhere', () => {
  const files = ['zeek-redis-pipelining.pcap', 'tcpdump-resp-2-inline-sll.pcap', 'zeek-redis-large-requests-responses.pcap', 'zeek-redis-start-with-server.pcapng'];
  const streams = files.flatMap((f) => parsePluginCapture(redisPlugin, join(REAL, f)).streams.flatMap(([a, b]) => [{ dir: 0 as const, b: a }, { dir: 1 as const, b }]));

  it('every direction of every connection: same messages at every cut (61 cuts beyond 16 KB) and byte by byte', () => {
    let checked = 0;
    for (const { dir, b } of streams.filter((x) => x.b.length > 0)) {
      const whole = feedParser(redisPlugin.parsers(), dir, b, () => b.length);
      const step = b.length > 16384 ? Math.ceil(b.length / 61) : 1; // big streams: 61 cuts spread over them
      for (let cut = 1; cut < b.length; cut += step) expect(feedParser(redisPlugin.parsers(), dir, b, (k) => (k === 0 ? cut : b.length))).toEqual(whole);
      expect(feedParser(redisPlugin.parsers(), dir, b, () => 1)).toEqual(whole);
      checked += whole.length;
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('two parsers fed alternately, 5 bytes at a time, do not disturb each other', () => {
    const [x, y] = streams.filter((s) => s.dir === 1).sort((p, q) => q.b.length - p.b.length);
    const wx = feedParser(redisPlugin.parsers(), 1, x.b, () => x.b.length);
    const wy = feedParser(redisPlugin.parsers(), 1, y.b, () => y.b.length);
    const px = redisPlugin.parsers();
    const py = redisPlugin.parsers();
    const rx: ProtocolMessage[] = [];
    const ry: ProtocolMessage[] = [];
    for (let i = 0; i < Math.max(x.b.length, y.b.length); i += 5) {
      if (i < x.b.length) rx.push(...px[1].push(x.b.subarray(i, i + 5), i));
      if (i < y.b.length) ry.push(...py[1].push(y.b.subarray(i, i + 5), i));
    }
    expect([rx, ry]).toEqual([wx, wy]);
    expect(wx.length + wy.length).toBeGreaterThan(2);
  });

  it('2,000 mutated Redis streams (each side, first 16 KB), cut at random with gaps: no throw, no hang', () => {
    const corpus = streams.filter((x) => x.b.length > 0).map((x) => x.b.subarray(0, 16384));
    expect(fuzzPlugin(redisPlugin, corpus, 2000, 636363)).toBeGreaterThan(10000); // 35,215 measured: most mutations leave messages
  });
});

describe('RESP', () => {
  const replies =
    '+OK\r\n-ERR unknown command\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*2\r\n$1\r\na\r\n:1\r\n*-1\r\n' +
    '_\r\n,3.14\r\n#t\r\n(123456789012345678901234567890\r\n!5\r\noops!\r\n=8\r\ntxt:abcd\r\n%1\r\n+k\r\n:1\r\n~2\r\n+x\r\n+y\r\n>2\r\n+message\r\n+hi\r\n|1\r\n+ttl\r\n:3\r\n';

  it('every RESP2 and RESP3 type', () => {
    const ms = feed(replies, 1, () => 1e9);
    expect(ms.map((m) => `${m.kind}:${m.summary}`)).toEqual([
      'reply:OK',
      'reply:error ERR unknown command',
      'reply:42',
      'reply:"hello" (5 bytes)',
      'reply:null',
      'reply:array of 2',
      'reply:null',
      'reply:null',
      'reply:3.14',
      'reply:true',
      'reply:123456789012345678901234567890',
      'reply:error oops!',
      'reply:"txt:abcd" (8 bytes)',
      'reply:map of 1',
      'reply:set of 2',
      'push:push of 2',
      'reply:attribute of 1',
    ]);
  });

  it('the same messages at every cut', () => {
    const whole = feed(replies, 1, () => 1e9);
    for (let cut = 1; cut < replies.length; cut++) expect(feed(replies, 1, (k) => (k === 0 ? cut : 1e9))).toEqual(whole);
    expect(feed(replies, 1, () => 1)).toEqual(whole);
  });

  it('pub/sub: confirmations pair with (UN)SUBSCRIBE, deliveries are pushes, pairing resumes after', () => {
    const ps = redisPlugin.parsers();
    const cmd = (...w: string[]) => `*${w.length}\r\n` + w.map((x) => `$${x.length}\r\n${x}\r\n`).join('');
    const out = feed(cmd('SUBSCRIBE', 'a', 'b') + cmd('UNSUBSCRIBE') + cmd('GET', 'k'), 0, () => 1e9, ps);
    const conf = (k: string, ch: string, n: number) => `*3\r\n$${k.length}\r\n${k}\r\n$${ch.length}\r\n${ch}\r\n:${n}\r\n`;
    const replies =
      conf('subscribe', 'a', 1) + conf('subscribe', 'b', 2) + cmd('message', 'a', 'hello') + conf('unsubscribe', 'a', 1) + conf('unsubscribe', 'b', 0) + '$1\r\nv\r\n';
    out.push(...feed(replies, 1, () => 1e9, ps));
    expect(out.map((m) => `${m.kind}:${m.summary}`)).toEqual([
      'command:SUBSCRIBE a b',
      'command:UNSUBSCRIBE',
      'command:GET k',
      'reply:array of 3 (SUBSCRIBE)',
      'reply:array of 3 (SUBSCRIBE)',
      'push:array of 3',
      'reply:array of 3 (UNSUBSCRIBE)',
      'reply:array of 3 (UNSUBSCRIBE)',
      'reply:"v" (1 bytes) (GET)',
    ]);
  
    // RESP3 (after HELLO 3): confirmations arrive as pushes and still close their command
    const ps3 = redisPlugin.parsers();
    const out3 = feed(cmd('SUBSCRIBE', 'a') + cmd('PING'), 0, () => 1e9, ps3);
    out3.push(...feed(conf('subscribe', 'a', 1).replace('*3', '>3') + '>3\r\n+message\r\n+a\r\n+x\r\n+PONG\r\n', 1, () => 1e9, ps3));
    expect(out3.slice(2).map((m) => `${m.kind}:${m.summary}`)).toEqual(['push:push of 3 (SUBSCRIBE)', 'push:push of 3', 'reply:PONG (PING)']);
  });

  it('a gap inside a bulk keeps the framing; a gap elsewhere resynchronises', () => {
    const ps = redisPlugin.parsers();
    const out = [...ps[1].push(Buffer.from('$10\r\nabc'), 0)];
    ps[1].gap(4);
    out.push(...ps[1].push(Buffer.from('hij\r\n+OK\r\n'), 12));
    ps[1].gap(3);
    out.push(...ps[1].push(Buffer.from('ncomplete\r\n:7\r\n'), 30));
    // the preview shows the bytes captured; the 4 lost ones are a gap, not data
    expect(out.map((m) => m.summary)).toEqual(['"abchij" (10 bytes)', 'OK', '7']);
  });

  it('detects Redis from either side, and does not take HTTP for it', () => {
    expect(redisPlugin.detect(Buffer.from('*1\r\n$4\r\nPING\r\n'), 0)).toBe(true);
    expect(redisPlugin.detect(Buffer.from('+PONG\r\n'), 1)).toBe(true);
    expect(redisPlugin.detect(Buffer.from('GET / HTTP/1.1\r\n'), 0)).toBe(false);
  });

  it('a reply of 2,000,000 elements keeps 65,536 of them and counts the rest; the next reply is read as usual', () => {
    const ps = redisPlugin.parsers();
    const n = 2_000_000;
    const body = Buffer.from(':1\r\n'.repeat(n));
    const out = [...ps[1].push(Buffer.from(`*${n}\r\n`), 0)];
    const heap = retainedHeap();
    out.push(...ps[1].push(body, 12), ...ps[1].push(Buffer.from('+OK\r\n'), 12 + body.length));
    const grew = retainedHeap() - heap;
    expect(out.map((m) => m.summary)).toEqual([`array of ${n}`, 'OK']);
    const v = out[0].fields.value as RespValue;
    expect(v.items).toHaveLength(RESP_KEPT_VALUES);
    expect(v.omitted).toBe(n - RESP_KEPT_VALUES);
    expect(grew).toBeLessThan(32 * 1024 * 1024); // kept, the 2 M values would take over 100 MB
  });

  it('nested: the budget is per message, over every level', () => {
    const ps = redisPlugin.parsers();
    const inner = `*40000\r\n${':7\r\n'.repeat(40_000)}`;
    const [m] = ps[1].push(Buffer.from(`*2\r\n${inner}${inner}`), 0);
    const v = m.fields.value as RespValue;
    expect(m.summary).toBe('array of 2');
    expect(v.items).toHaveLength(2);
    expect(v.items!.map((x) => [x.items!.length, x.omitted ?? 0])).toEqual([
      [40_000, 0],
      [RESP_KEPT_VALUES - 40_002, 40_000 - (RESP_KEPT_VALUES - 40_002)],
    ]);
  });

  it('a command of 100,000 arguments: the summary says how many more', () => {
    const ps = redisPlugin.parsers();
    const cmd = `*100001\r\n$4\r\nDEL\r\n${'$1\r\nk\r\n'.repeat(100_000)}`;
    const [m] = ps[0].push(Buffer.from(cmd.replace('$4\r\nDEL', '$3\r\nDEL')), 0);
    expect(m.fields.command).toBe('DEL');
    expect((m.fields.args as string[]).length).toBe(RESP_KEPT_VALUES - 1);
    expect(m.summary.endsWith(`… (${100_001 - RESP_KEPT_VALUES} more arguments)`)).toBe(true);
  });

  it(`aggregates nested past ${RESP_MAX_DEPTH} levels stop the parser with a reason, in bounded memory`, () => {
    const ps = redisPlugin.parsers();
    const deep = Buffer.from('*1\r\n'.repeat(1_000_000));
    const heap = retainedHeap();
    expect(ps[1].push(deep, 0)).toEqual([]);
    expect(retainedHeap() - heap).toBeLessThan(16 * 1024 * 1024);
    expect(ps[1].stopped).toBe(`RESP aggregates nested deeper than ${RESP_MAX_DEPTH} levels`);
    // what was read before a message that deep stays read
    const ps2 = redisPlugin.parsers();
    const out = ps2[1].push(Buffer.from('+OK\r\n' + '*1\r\n'.repeat(600)), 0);
    expect(out.map((m) => m.summary)).toEqual(['OK']);
    expect(ps2[1].stopped).not.toBeNull();
  });
});
