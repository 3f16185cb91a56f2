/**
 * The MongoDB plugin: the real OP_COMMAND capture gives what tshark's dissector sees; OP_MSG
 * (both section kinds, checksum, exhaust, unacknowledged writes), OP_QUERY / OP_REPLY and
 * OP_COMPRESSED (zlib inflated through the service's host, others noticed) on messages built with
 * the official bson package; documents decoded to Extended JSON end to end; any cut; gaps; fuzz.
 */
import { EJSON, ObjectId, serialize } from 'bson';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { mongoPlugin, type ProtocolMessage } from '../../main/engine/protocols';
import { PARSER_HOST } from '../../main/service/pipeline/message-content';
import { writeConversationPcap } from '../helpers/conversation-pcap';
import { captureMessages, feedConversation, feedInterleaved, fuzzPlugin, parsePluginCapture } from '../helpers/feed-parser';
import { REAL } from '../helpers/fixtures';

const messages = (path: string) => captureMessages(path, [mongoPlugin]);

describe('MongoDB on the real capture, against tshark 4.0.17', () => {
  it('mongo-tools op_command_2inserts: every OP_COMMAND and reply tshark dissects, same ids, commands and databases', async () => {
    const ms = await messages(join(REAL, 'mongo-op-command-2inserts-null.pcap'));
    // tshark -r F -d tcp.port==20000,mongo -Y mongo -T fields -e frame.number -e mongo.opcode
    //   -e mongo.request_id -e mongo.response_to -e mongo.commandname -e mongo.database
    const commands = ['insert', 'getlasterror', 'serverStatus', 'buildinfo', 'replSetGetStatus', 'isMaster'];
    const dbs = ['mongotape', 'mongotape', 'admin', 'admin', 'admin', 'mongotape'];
    const expected = Array.from({ length: 24 }, (_, i) => {
      const k = i >> 1;
      const req = 0x11 + k;
      return i % 2 === 0
        ? { frame: 1 + 2 * i, opCode: 'OP_COMMAND', requestID: req, responseTo: 0, commandName: commands[k % 6], database: dbs[k % 6] }
        : { frame: 1 + 2 * i, opCode: 'OP_COMMANDREPLY', requestID: 0x209 + k, responseTo: req };
    });
    expect(ms.map((m) => ({ frame: m.frame, ...pick(m.fields, Object.keys(expected[ms.indexOf(m)]).filter((k) => k !== 'frame')) }))).toEqual(expected);
    // mongo.message_length of each message is its byte range
    expect(ms.slice(0, 6).map((m) => m.end - m.start)).toEqual([136, 41, 82, 95, 67, 16259]);
    expect(ms[0].summary).toBe('insert mongotape.test');
    expect(ms[1].summary).toBe('ok n=1 (insert mongotape.test)');
    expect(ms[9].summary).toBe('error: not running with --replSet (code 76) (replSetGetStatus admin)');
    // documents decoded by bson, ObjectIds as Extended JSON
    expect((ms[0].fields.documents as unknown[])[0]).toEqual({ insert: 'test', documents: [{ _id: { $oid: '576aad96cfe80578bffb2529' }, op_command_test: 1 }], ordered: true });
    expect((ms[5].fields.documents as { version: string }[])[0].version).toMatch(/^\d+\.\d+/);
  });
});

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, o[k]]));
}

// --- messages built with the official bson package ----------------------------------------------

const le32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
};
const cstr = (s: string) => Buffer.from(`${s}\0`);
const message = (op: number, requestID: number, responseTo: number, body: Uint8Array) => Buffer.concat([le32(16 + body.length), le32(requestID), le32(responseTo), le32(op), body]);
const doc = (d: Record<string, unknown>) => Buffer.from(serialize(d));
const msg = (requestID: number, responseTo: number, body: Record<string, unknown>, o: { flags?: number; sequence?: [string, Record<string, unknown>[]] } = {}) => {
  const parts = [le32(o.flags ?? 0), Buffer.from([0]), doc(body)];
  if (o.sequence) {
    const docs = Buffer.concat(o.sequence[1].map(doc));
    const id = cstr(o.sequence[0]);
    parts.push(Buffer.from([1]), le32(4 + id.length + docs.length), id, docs);
  }
  if ((o.flags ?? 0) & 1) parts.push(le32(0x12345678)); // CRC-32C, not checked
  return message(2013, requestID, responseTo, Buffer.concat(parts));
};
const query = (requestID: number, ns: string, q: Record<string, unknown>) => message(2004, requestID, 0, Buffer.concat([le32(0), cstr(ns), le32(0), le32(-1), doc(q)]));
const reply = (requestID: number, responseTo: number, docs: Record<string, unknown>[]) =>
  message(1, requestID, responseTo, Buffer.concat([le32(8), le32(0), le32(0), le32(0), le32(docs.length), ...docs.map(doc)]));
const compressed = (m: Buffer, compressor: number) => {
  const body = m.subarray(16);
  const data = compressor === 2 ? deflateSync(body) : compressor === 0 ? body : Buffer.from('not really snappy');
  return message(2012, m.readInt32LE(4), m.readInt32LE(8), Buffer.concat([le32(m.readInt32LE(12)), le32(body.length), Buffer.from([compressor]), data]));
};

const id = new ObjectId('65a1b2c3d4e5f60718293a4b');
function session(): [0 | 1, Uint8Array][] {
  return [
    [0, query(1, 'admin.$cmd', { isMaster: 1 })],
    [1, reply(100, 1, [{ ismaster: true, maxWireVersion: 21, ok: 1 }])],
    [0, msg(2, 0, { insert: 'orders', ordered: true, $db: 'shop' }, { sequence: ['documents', [{ _id: id, qty: 5 }, { _id: 2, qty: 7 }]] })],
    [1, msg(101, 2, { n: 2, ok: 1 })],
    [0, msg(3, 0, { find: 'orders', filter: { qty: { $gt: 1 } }, $db: 'shop' }, { flags: 1 })],
    [1, msg(102, 3, { cursor: { firstBatch: [{ _id: id, qty: 5 }, { _id: 2, qty: 7 }], id: 0, ns: 'shop.orders' }, ok: 1 }, { flags: 1 })],
    [0, msg(4, 0, { drop: 'missing', $db: 'shop' })],
    [1, msg(103, 4, { ok: 0, errmsg: 'ns not found', code: 26, codeName: 'NamespaceNotFound' })],
    // an unacknowledged write (moreToCome from the client): no reply
    [0, msg(5, 0, { delete: 'orders', deletes: [], writeConcern: { w: 0 }, $db: 'shop' }, { flags: 2 })],
    // exhaust: the first reply has moreToCome, the second answers it
    [0, msg(6, 0, { getMore: 7, collection: 'orders', $db: 'shop' }, { flags: 1 << 16 })],
    [1, msg(104, 6, { cursor: { nextBatch: [{ a: 1 }], id: 7 }, ok: 1 }, { flags: 2 })],
    [1, msg(105, 104, { cursor: { nextBatch: [], id: 0 }, ok: 1 })],
    [0, compressed(msg(7, 0, { count: 'orders', $db: 'shop' }), 2)],
    [1, compressed(msg(106, 7, { n: 2, ok: 1 }), 2)],
    [0, compressed(msg(8, 0, { ping: 1, $db: 'admin' }), 0)],
    [1, compressed(msg(107, 8, { ok: 1 }), 1)],
    [0, query(9, 'shop.orders', { qty: 5 })],
    [1, reply(108, 9, [{ _id: id, qty: 5 }])],
  ];
}

/** Messages as one string (documents base64): compared far faster than deep equality on bytes. */
const flat = (ms: ProtocolMessage[]) => JSON.stringify(ms, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v));
const lines = (ms: ProtocolMessage[]) => ms.map((m) => `${m.dir} ${m.kind}: ${m.summary}`);
const withHost = { ...mongoPlugin, parsers: () => mongoPlugin.parsers(PARSER_HOST) };

describe('MongoDB conversations', () => {
  it('OP_MSG sections, checksums, exhaust and w:0, legacy query/reply, compression: paired by requestID / responseTo', () => {
    const ms = feedConversation(withHost, session());
    expect(lines(ms)).toEqual([
      '0 request: isMaster admin',
      '1 response: ok 1 document (isMaster admin)',
      '0 request: insert shop.orders',
      '1 response: ok n=2 (insert shop.orders)',
      '0 request: find shop.orders',
      '1 response: ok 2 documents (find shop.orders)',
      '0 request: drop shop.missing',
      '1 response: error: ns not found (code 26) (drop shop.missing)',
      '0 request: delete shop.orders',
      '0 request: getMore shop',
      '1 response: ok 1 document (getMore shop)',
      '1 response: ok 0 documents (getMore shop)',
      '0 request: count shop.orders',
      '1 response: ok n=2 (count shop.orders)',
      '0 request: ping admin',
      '1 response: compressed reply (snappy) (ping admin)',
      '0 request: query shop.orders',
      '1 response: 1 document (query shop.orders)',
    ]);
    const insert = ms[2].fields;
    expect(insert).toMatchObject({ opCode: 'OP_MSG', requestID: 2, checksum: false, database: 'shop', collection: 'orders' });
    expect(Object.keys(insert.sequences as object)).toEqual(['documents']);
    expect(ms[4].fields).toMatchObject({ checksum: true, flags: 1 });
    expect(ms[12].fields).toMatchObject({ compressed: { originalOpCode: 'OP_MSG', compressor: 'zlib' }, commandName: 'count' });
    expect(ms[15].fields).toMatchObject({ compressed: { compressor: 'snappy' }, notDecoded: 'snappy is not decoded' });
  });

  it('without the host, zlib is noticed, not decoded', () => {
    const ms = feedConversation(mongoPlugin, session().slice(12, 14));
    expect(lines(ms)).toEqual(['0 request: compressed request (zlib)', '1 response: compressed reply (zlib) (compressed request (zlib))']);
  });

  it('the same messages at every cut and byte by byte', () => {
    const turns = session();
    const whole = flat(feedConversation(withHost, turns));
    for (let cut = 1; cut < 200; cut += 3) expect(flat(feedConversation(withHost, turns, (k) => (k % 2 ? cut : 17)))).toBe(whole);
    expect(flat(feedConversation(withHost, turns, () => 1))).toBe(whole);
  });

  it('a gap inside a message keeps the framing (marked incomplete); a gap between messages resumes at the next one', () => {
    const turns = session();
    const ps = mongoPlugin.parsers(PARSER_HOST);
    const out: ProtocolMessage[] = [];
    const off = [0, 0];
    const feed = (dir: 0 | 1, b: Uint8Array) => (out.push(...ps[dir].push(b, off[dir])), (off[dir] += b.length));
    const lose = (dir: 0 | 1, n: number) => (ps[dir].gap(n), (off[dir] += n));
    feed(0, turns[4][1]);
    const big = turns[5][1];
    feed(1, big.subarray(0, 40));
    lose(1, 10);
    feed(1, big.subarray(50));
    lose(0, 5); // the drop request loses its first bytes: framing lost
    feed(0, turns[6][1].subarray(5));
    lose(1, turns[7][1].length);
    feed(0, turns[8][1]); // the next message starts a segment: resumed
    expect(lines(out)).toEqual(['0 request: find shop.orders', '1 response: reply (find shop.orders)', '0 request: delete shop.orders']);
    expect(out[1].fields.incomplete).toBe(true);
  });

  it('through the whole pipeline: a capture file, documents as Extended JSON, zlib inflated', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-mongo-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'session.pcap');
    writeConversationPcap(file, session(), [51000, 27017], 100);
    const ms = await messages(file);
    expect(ms.map((m) => m.summary)).toEqual(lines(feedConversation(withHost, session())).map((l) => l.replace(/^\d \w+: /, '')));
    expect(ms[2].fields.sequences).toEqual({ documents: [{ _id: { $oid: id.toHexString() }, qty: 5 }, { _id: 2, qty: 7 }] });
    expect(ms[13].fields.documents).toEqual([{ n: 2, ok: 1 }]);
    expect(EJSON.stringify(ms[5].fields.documents as object)).toContain('"firstBatch":[{"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"},"qty":5}');
    expect(ms.map((m) => m.frame)).toEqual([...ms.map((m) => m.frame)].sort((a, b) => a - b));
  });

  it('detects MongoDB from either side and not HTTP, Redis or MySQL', () => {
    expect(mongoPlugin.detect(msg(1, 0, { hello: 1, $db: 'admin' }).subarray(0, 64), 0)).toBe(true);
    expect(mongoPlugin.detect(reply(1, 1, [{ ok: 1 }]).subarray(0, 64), 1)).toBe(true);
    expect(mongoPlugin.detect(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 0)).toBe(false);
    expect(mongoPlugin.detect(Buffer.from('*1\r\n$4\r\nPING\r\n\r\n\r\n\r\n'), 0)).toBe(false);
  });
});

describe('the real MongoDB streams, cut anywhere', () => {
  const [conversation] = parsePluginCapture(withHost, join(REAL, 'mongo-op-command-2inserts-null.pcap')).conversations;

  it('in capture order: same messages at every cut and byte by byte', () => {
    const whole = feedConversation(withHost, conversation);
    expect(whole.length).toBe(24);
    for (let cut = 1; cut < 300; cut += 7) expect(flat(feedConversation(withHost, conversation, (k) => (k % 3 ? cut : 1000 - cut)))).toBe(flat(whole));
    expect(flat(feedConversation(withHost, conversation, () => 1))).toBe(flat(whole));
  });

  it('two sessions fed alternately do not disturb each other', () => {
    const [a, b] = [conversation, session()];
    const [ra, rb] = feedInterleaved(withHost, a, b, 7);
    expect(flat([...ra, ...rb])).toBe(flat([...feedConversation(withHost, a), ...feedConversation(withHost, b)]));
  });

  it('2,000 mutated MongoDB streams cut at random with gaps: no throw, no hang', () => {
    const corpus: Uint8Array[] = [0, 1].map((d) => Buffer.concat(conversation.filter(([x]) => x === d).map(([, x]) => x)).subarray(0, 20000));
    corpus.push(...session().map(([, x]) => x));
    expect(fuzzPlugin(withHost, corpus, 2000, 27017)).toBeGreaterThan(1000);
  });
});
