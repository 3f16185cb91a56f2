/**
 * The MySQL plugin: the real captures give the messages tshark's dissector sees; prepared
 * statements, deprecated EOF, query attributes, several result sets, errors, LOCAL INFILE, TLS
 * and compression on conversations built to the protocol documentation; any cut; gaps; fuzz.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mysqlPlugin, type ProtocolMessage } from '../../main/engine/protocols';
import { MYSQL_MAX_COLUMNS, MYSQL_MAX_STATEMENTS } from '../../main/engine/protocols/mysql';
import { captureMessages, feedConversation, feedInterleaved, fuzzPlugin, parsePluginCapture } from '../helpers/feed-parser';
import { REAL } from '../helpers/fixtures';
import { retainedHeap } from '../helpers/heap';

const messages = (file: string) => captureMessages(join(REAL, file), [mysqlPlugin]);

describe('MySQL on the real captures, against tshark 4.0.17', () => {
  it('zeek mysql.pcap: a message at every frame tshark dissects as MySQL, the same queries, versions and users', async () => {
    const ms = await messages('zeek-mysql.pcap');
    // tshark -r zeek-mysql.pcap -Y mysql -T fields -e frame.number
    const frames = [4, 6, 8, 9, 10, 12, 13, 15, 16, 17, 18, 19, 20, 21, 22, 24, 25, 27, 28, 30, 31, 33, 34, 36, 37, 39, 40, 42, 43, 45, 46, 48, 49, 51, 52, 54];
    expect(ms.map((m) => m.frame)).toEqual(frames);
    // tshark … -Y mysql.query -T fields -e mysql.query
    expect(ms.filter((m) => m.fields.command === 'COM_QUERY' && m.kind === 'request').map((m) => m.fields.sql)).toEqual([
      'select @@version_comment limit 1',
      'SELECT DATABASE()',
      'show databases',
      'show tables',
      'create table foo (id BIGINT( 10 ) UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, animal VARCHAR(64) NOT NULL, name VARCHAR(64) NULL DEFAULT NULL) ENGINE = MYISAM',
      'insert into foo (animal, name) values ("dog", "Goofy")',
      'insert into foo (animal, name) values ("cat", "Garfield")',
      'select * from foo',
      "delete from foo where name like '%oo%'",
      'delete from foo where id = 1',
      'select count(*) from foo',
      'select * from foo',
      'delete from foo',
      'drop table foo',
    ]);
    expect(ms[0].fields).toMatchObject({ version: '5.0.54', connection: 94 }); // mysql.version
    expect(ms[1].fields).toMatchObject({ user: 'tfoerste' }); // mysql.user
    // mysql.num_fields on the result sets: 1 1 1 1 3 1 3; the FIELD_LIST answer lists 4 columns
    const sets = ms.filter((m) => m.kind === 'response' && Array.isArray(m.fields.columns));
    expect(sets.map((m) => (m.fields.columns as unknown[]).length)).toEqual([1, 1, 1, 1, 4, 3, 1, 3]);
    const select = sets.find((m) => m.frame === 34)!;
    expect(select.fields).toMatchObject({ rows: 2, firstRows: [['1', 'dog', 'Goofy'], ['2', 'cat', 'Garfield']], sql: 'select * from foo' });
    expect(ms.find((m) => m.frame === 28)!.summary).toBe('OK, 1 row affected, insert id 1 (QUERY)');
    expect(ms.at(-1)!.summary).toBe('QUIT');
    // every request but QUIT has its response, in order
    const answered = ms.filter((m) => m.kind === 'response').map((m) => m.fields.command);
    expect(answered).toEqual(ms.filter((m) => m.kind === 'request' && m.summary !== 'QUIT').map((m) => m.fields.command));
  });

  it('MySQL 8 with caching_sha2_password after an auth switch, query attributes and no EOF packets', async () => {
    const ms = await messages('zeek-mysql-caching-sha2-after-switch.pcapng');
    expect(ms.map((m) => m.frame)).toEqual([4, 6, 8, 9, 10, 11, 13, 14, 16, 17, 19, 20, 21, 22, 24]);
    expect(ms.map((m) => m.summary).slice(0, 6)).toEqual([
      'server 8.0.32, connection 20, auth caching_sha2_password, offers TLS',
      'login user=root plugin=mysql_native_password',
      'auth switch to caching_sha2_password',
      'auth data (32 bytes)',
      'auth fast auth OK',
      'auth OK',
    ]);
    expect(ms.filter((m) => m.kind === 'request' && m.fields.sql).map((m) => m.fields.sql)).toEqual([
      'select @@version_comment limit 1',
      'select DATABASE(), USER() limit 1',
      'select @@character_set_client, @@character_set_connection, @@character_set_server, @@character_set_database limit 1',
    ]);
    const sets = ms.filter((m) => m.kind === 'response' && m.fields.rows !== undefined);
    expect(sets.map((m) => [(m.fields.columns as unknown[]).length, m.fields.rows])).toEqual([[1, 1], [2, 1], [4, 1]]);
    expect(sets[1].fields.firstRows).toEqual([[null, 'root@localhost']]);
    expect(ms[1].fields.attributes).toMatchObject({ _client_name: 'libmysql', program_name: 'mysql' });
    expect(ms[13].summary).toMatch(/^Uptime: 416222 {2}Threads: 2 .* \(STATISTICS\)$/);
  });
});

// --- conversations built to the protocol documentation ------------------------------------------

type Part = number[] | string | Uint8Array;
const bytes = (...parts: Part[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p as number[]))));
const u16 = (n: number) => [n & 255, n >> 8];
const u32 = (n: number) => [n & 255, (n >> 8) & 255, (n >> 16) & 255, n >>> 24];
const lenstr = (s: string) => bytes([Buffer.byteLength(s)], s);
const z = (s: string) => bytes(s, [0]);
const packet = (seq: number, ...parts: Part[]) => {
  const p = bytes(...parts);
  return bytes([p.length & 255, (p.length >> 8) & 255, p.length >> 16, seq], p);
};

const PROTOCOL_41 = 0x200, SECURE = 0x8000, PLUGIN_AUTH = 0x80000, WITH_DB = 0x8, DEPRECATE_EOF = 0x1000000, QUERY_ATTRS = 0x8000000;
const SSL = 0x800, COMPRESS = 0x20, MULTI = 0x10000 | 0x20000;

function handshake(flags: number): Buffer {
  return packet(0, [10], z('8.0.36'), u32(7), 'abcdefgh', [0], u16(flags & 0xffff), [255], u16(2), u16(flags >>> 16), [21], new Array(10).fill(0), z('ijklmnopqrst'), z('caching_sha2_password'));
}
function login(flags: number): Buffer {
  return packet(1, u32(flags), u32(1 << 24), [255], new Array(23).fill(0), z('app'), [20], new Array(20).fill(7), z('shop'), z('caching_sha2_password'));
}
const OK = (seq: number, affected = 0, id = 0, status = 2) => packet(seq, [0, affected, id], u16(status), u16(0));
const EOF = (seq: number, status = 2) => packet(seq, [0xfe], u16(0), u16(status));
const OK_EOF = (seq: number, status = 2) => packet(seq, [0xfe, 0, 0], u16(status), u16(0));
const column = (seq: number, name: string, type: number, flags = 0) =>
  packet(seq, lenstr('def'), lenstr('shop'), lenstr('t'), lenstr('t'), lenstr(name), lenstr(name), [0x0c], u16(255), u32(64), [type], u16(flags), [0, 0, 0]);

/** A whole session; `modern` = deprecated EOF and query attributes (MySQL 8), else 5.x style. */
function session(modern: boolean): [0 | 1, Uint8Array][] {
  const flags = PROTOCOL_41 | SECURE | PLUGIN_AUTH | WITH_DB | MULTI | (modern ? DEPRECATE_EOF | QUERY_ATTRS : 0);
  const eof = (seq: number) => (modern ? [] : [EOF(seq)]);
  const end = (seq: number, status = 2) => (modern ? OK_EOF(seq, status) : EOF(seq, status));
  const query = (sql: string) => packet(0, [3], modern ? [0, 1] : [], sql);
  return [
    [1, handshake(flags)],
    [0, login(flags)],
    [1, OK(2)],
    // prepare: 2 params, 2 columns
    [0, packet(0, [0x16], 'SELECT id, name FROM t WHERE id > ? AND name = ?')],
    [1, bytes(packet(1, [0], u32(1), u16(2), u16(2), [0], u16(0)), column(2, '?', 0xfd), column(3, '?', 0xfd), ...eof(4), column(modern ? 4 : 5, 'id', 0x08, 0x20), column(modern ? 5 : 6, 'name', 0xfd), ...eof(7))],
    // execute with a BIGINT and a string; binary rows: (5, "bob"), (6, NULL)
    [0, packet(0, [0x17], u32(1), [0], u32(1), [0], [1], [0x08, 0, 0xfd, 0], [5, 0, 0, 0, 0, 0, 0, 0], lenstr('bob'))],
    [1, bytes(packet(1, [2]), column(2, 'id', 0x08, 0x20), column(3, 'name', 0xfd), ...eof(4), packet(5, [0, 0], [5, 0, 0, 0, 0, 0, 0, 0], lenstr('bob')), packet(6, [0, 8], [6, 0, 0, 0, 0, 0, 0, 0]), end(7))],
    [0, packet(0, [0x19], u32(1))], // close: no answer
    // a procedure: a result set, then the final OK (SERVER_MORE_RESULTS_EXISTS between them)
    [0, query('CALL report()')],
    [1, bytes(packet(1, [1]), column(2, 'n', 0x08), ...eof(3), packet(4, lenstr('42')), end(5, 2 | 8), OK(6))],
    [0, query('SELECT * FROM missing')],
    [1, packet(1, [0xff], u16(1146), '#42S02', "Table 'shop.missing' doesn't exist")],
    [0, query("LOAD DATA LOCAL INFILE '/tmp/t.csv' INTO TABLE t")],
    [1, packet(1, [0xfb], '/tmp/t.csv')],
    [0, bytes(packet(2, '1,a\n2,b\n'), packet(3))],
    [1, OK(4, 2)],
    [0, packet(0, [1])],
  ];
}

const lines = (ms: ProtocolMessage[]) => ms.map((m) => `${m.dir} ${m.kind}: ${m.summary}`);

describe('MySQL conversations', () => {
  for (const modern of [true, false]) {
    it(`prepared statements, a procedure's two results, ERR, LOCAL INFILE (${modern ? 'MySQL 8: no EOF, query attributes' : 'classic EOF'})`, () => {
      const ms = feedConversation(mysqlPlugin, session(modern));
      expect(lines(ms)).toEqual([
        '1 handshake: server 8.0.36, connection 7, auth caching_sha2_password',
        '0 login: login user=app db=shop plugin=caching_sha2_password',
        '1 auth: auth OK',
        '0 request: PREPARE SELECT id, name FROM t WHERE id > ? AND name = ?',
        '1 response: statement 1 prepared: 2 params, 2 columns (STMT_PREPARE)',
        '0 request: STMT_EXECUTE 1 (SELECT id, name FROM t WHERE id > ? AND name = ?) [5, "bob"]',
        '1 response: 2 columns, 2 rows (STMT_EXECUTE)',
        '0 request: STMT_CLOSE 1 (SELECT id, name FROM t WHERE id > ? AND name = ?)',
        '0 request: CALL report()',
        '1 response: 1 column, 1 row (QUERY)',
        '1 response: OK (QUERY)',
        '0 request: SELECT * FROM missing',
        "1 response: ERR 1146 (42S02): Table 'shop.missing' doesn't exist (QUERY)",
        "0 request: LOAD DATA LOCAL INFILE '/tmp/t.csv' INTO TABLE t",
        '1 response: LOCAL INFILE /tmp/t.csv',
        '0 data: data (8 bytes)',
        '0 data: data (0 bytes)',
        '1 response: OK, 2 rows affected (QUERY)',
        '0 request: QUIT',
      ]);
      const exec = ms.find((m) => m.summary.startsWith('2 columns'))!;
      expect(exec.fields).toMatchObject({ columns: [{ name: 'id', type: 8, unsigned: true }, { name: 'name', type: 0xfd }], firstRows: [[5, 'bob'], [6, null]] });
      expect(ms.find((m) => m.summary.startsWith('1 column,'))!.fields).toMatchObject({ moreResults: true, firstRows: [['42']] });
      expect(ms.find((m) => m.summary.startsWith('OK (QUERY)'))!.fields).toMatchObject({ resultSet: 2 });
      expect(ms.every((m) => m.end > m.start)).toBe(true);
    });

    it(`the same messages at every cut and byte by byte (${modern ? 'modern' : 'classic'})`, () => {
      const turns = session(modern);
      const whole = feedConversation(mysqlPlugin, turns);
      const total = turns.reduce((n, [, b]) => n + b.length, 0);
      for (let cut = 1; cut < total; cut += 7) expect(feedConversation(mysqlPlugin, turns, (k) => (k % 2 === 0 ? cut % 13 || 1 : cut))).toEqual(whole);
      expect(feedConversation(mysqlPlugin, turns, () => 1)).toEqual(whole);
    });
  }

  it('a TLS request stops both directions, saying so; the compressed protocol too', () => {
    const flags = PROTOCOL_41 | SECURE | PLUGIN_AUTH | SSL;
    const tls = mysqlPlugin.parsers();
    tls[1].push(handshake(flags), 0);
    const req = tls[0].push(packet(1, u32(flags), u32(1 << 24), [255], new Array(23).fill(0)), 0);
    expect(req.map((m) => m.kind)).toEqual(['tls']);
    expect(tls[1].push(Buffer.from([0x16, 3, 1, 0, 200, 1, 0, 0]), 100)).toEqual([]);
    expect(tls.map((p) => p.stopped)).toEqual(['TLS (the client asked for SSL)', 'TLS (the client asked for SSL)']);

    const zipped = mysqlPlugin.parsers();
    zipped[1].push(handshake(flags | COMPRESS), 0);
    expect(zipped[0].push(login(PROTOCOL_41 | SECURE | PLUGIN_AUTH | WITH_DB | COMPRESS), 0)[0].summary).toBe('login user=app db=shop plugin=caching_sha2_password (compressed protocol)');
    expect(zipped[1].stopped).toMatch(/^compressed protocol \(zlib\)/);
  });

  it('a 20 MB query (continued packets) is one request whose text is kept up to 64 KiB', () => {
    const sql = 'INSERT INTO t VALUES ' + '(1),'.repeat(5_000_000) + '(2)';
    const payload = bytes([3], sql);
    const first = bytes([0xff, 0xff, 0xff, 0], payload.subarray(0, 0xffffff));
    const rest = packet(1, payload.subarray(0xffffff));
    const ms = feedConversation(mysqlPlugin, [[0, bytes(first, rest)], [1, packet(2, [0, 0xfd, 0x41, 0x4b, 0x4c, 0], u16(2), u16(0))]], () => 1 << 20);
    expect(ms.map((m) => [m.kind, m.start, m.end])).toEqual([['request', 0, first.length + rest.length], ['response', 0, 14]]);
    expect(ms[0].fields).toMatchObject({ truncated: true });
    expect((ms[0].fields.sql as string).length).toBe(64 * 1024 - 5);
    expect(ms[1].summary).toBe('OK, 5000001 rows affected (QUERY)');
  });

  it('a gap inside a row keeps the framing; a gap between packets resumes at the next command and its response', () => {
    const turns = session(false);
    const ps = mysqlPlugin.parsers();
    const off = [0, 0];
    const out: ProtocolMessage[] = [];
    const feed = (dir: 0 | 1, b: Uint8Array) => {
      out.push(...ps[dir].push(b, off[dir]));
      off[dir] += b.length;
    };
    const lose = (dir: 0 | 1, n: number) => {
      ps[dir].gap(n);
      off[dir] += n;
    };
    for (const [dir, b] of turns.slice(0, 6)) feed(dir, b);
    // the execute response loses 3 bytes inside its first row
    const exec = turns[6][1];
    const row = Buffer.from(exec).indexOf('bob') - 4;
    feed(1, exec.subarray(0, row));
    lose(1, 3);
    feed(1, exec.subarray(row + 3));
    // the client loses the whole CALL; the server loses its answer; both resume with the next exchange
    lose(0, turns[8][1].length);
    lose(1, turns[9][1].length);
    feed(0, turns[10][1]);
    feed(1, turns[11][1]);
    expect(lines(out).slice(6)).toEqual(['1 response: 2 columns, 2 rows (STMT_EXECUTE)', '0 request: SELECT * FROM missing', "1 response: ERR 1146 (42S02): Table 'shop.missing' doesn't exist (QUERY)"]);
    expect(ps.map((p) => p.stopped)).toEqual([null, null]);
  });

  it('detects MySQL from the greeting, the login or a query, and not HTTP or Redis', () => {
    const flags = PROTOCOL_41 | SECURE;
    expect(mysqlPlugin.detect(handshake(flags).subarray(0, 64), 1)).toBe(true);
    expect(mysqlPlugin.detect(login(flags).subarray(0, 64), 0)).toBe(true);
    expect(mysqlPlugin.detect(packet(0, [3], 'select 1'), 0)).toBe(true);
    expect(mysqlPlugin.detect(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 0)).toBe(false);
    expect(mysqlPlugin.detect(Buffer.from('*1\r\n$4\r\nPING\r\n'), 0)).toBe(false);
  });
});

describe('the real MySQL streams, cut anywhere', () => {
  const conversations = ['zeek-mysql.pcap', 'zeek-mysql-caching-sha2-after-switch.pcapng'].flatMap((f) => parsePluginCapture(mysqlPlugin, join(REAL, f)).conversations);

  it('each connection in capture order: same messages at every cut and byte by byte', () => {
    let checked = 0;
    for (const turns of conversations) {
      const whole = feedConversation(mysqlPlugin, turns);
      for (let cut = 1; cut < 64; cut++) expect(feedConversation(mysqlPlugin, turns, (k) => (k % 3 === 0 ? cut : 64 - cut))).toEqual(whole);
      expect(feedConversation(mysqlPlugin, turns, () => 1)).toEqual(whole);
      checked += whole.length;
    }
    expect(checked).toBe(36 + 15);
  });

  it('two sessions fed alternately, 3 bytes at a time, do not disturb each other', () => {
    const [a, b] = conversations;
    expect(feedInterleaved(mysqlPlugin, a, b, 3)).toEqual([feedConversation(mysqlPlugin, a), feedConversation(mysqlPlugin, b)]);
  });

  it('2,000 mutated MySQL streams cut at random with gaps: no throw, no hang', () => {
    const corpus = [...conversations.flatMap((t) => [0, 1].map((d) => Buffer.concat(t.filter(([x]) => x === d).map(([, b]) => b)))), ...session(true).map(([, b]) => b)];
    const n = fuzzPlugin(mysqlPlugin, corpus, 2000, 330633);
    expect(n).toBeGreaterThan(2000); // 3,355 measured
  });

  describe('bounded, whatever the peer sends', () => {
    const flags = PROTOCOL_41 | SECURE | PLUGIN_AUTH | WITH_DB | DEPRECATE_EOF;
    const start: [0 | 1, Uint8Array][] = [
      [1, handshake(flags)],
      [0, login(flags)],
      [1, OK(2)],
    ];

    it(`a result set of 100,000 columns describes ${MYSQL_MAX_COLUMNS} and counts the rest; its rows are counted`, () => {
      const n = 100_000;
      const cols = Array.from({ length: n }, (_, i) => column((i + 2) & 255, `c${i}`, 0xfd));
      const ms = feedConversation(mysqlPlugin, [
        ...start,
        [0, packet(0, [3], 'SELECT * FROM wide')],
        // the count as a 3-byte length-encoded integer
        [1, bytes(packet(1, [0xfd, n & 255, (n >> 8) & 255, n >> 16]), ...cols, packet(2, lenstr('x')), OK_EOF(3))],
      ]);
      const r = ms.find((m) => m.kind === 'response' && m.summary.startsWith(`${n} columns`))!;
      expect(r.summary).toBe(`${n} columns, 1 row (QUERY)`);
      expect((r.fields.columns as unknown[]).length).toBe(MYSQL_MAX_COLUMNS);
      expect(r.fields.moreColumns).toBe(n - MYSQL_MAX_COLUMNS);
      expect(r.fields.rows).toBe(1);
    });

    it(`prepared statements never closed: the newest ${MYSQL_MAX_STATEMENTS} are remembered`, () => {
      const turns: [0 | 1, Uint8Array][] = [...start];
      const n = MYSQL_MAX_STATEMENTS + 100;
      for (let id = 1; id <= n; id++) {
        turns.push([0, packet(0, [0x16], `SELECT ${id}`)], [1, packet(1, [0], u32(id), u16(0), u16(0), [0], u16(0))]);
      }
      turns.push([0, packet(0, [0x17], u32(1), [0], u32(1))], [1, OK(1)]);
      turns.push([0, packet(0, [0x17], u32(n), [0], u32(1))], [1, OK(1)]);
      const ms = feedConversation(mysqlPlugin, turns);
      const execs = ms.filter((m) => m.kind === 'request' && m.summary.startsWith('STMT_EXECUTE'));
      // the first was let go (read as one prepared before the capture), the last is known
      expect(execs.map((m) => m.summary)).toEqual(['STMT_EXECUTE 1', `STMT_EXECUTE ${n} (SELECT ${n})`]);
    });

    it('a client whose server never answers: the requests waiting are bounded', () => {
      const ps = mysqlPlugin.parsers();
      let pos = 0;
      for (const [dir, b] of start) {
        ps[dir].push(b, pos);
        pos += b.length;
      }
      const query = packet(0, [3], 'SELECT ' + 'x'.repeat(1000));
      const heap = retainedHeap();
      // 200 MB of queries the server never answers
      const chunk = Buffer.concat(Array.from({ length: 1000 }, () => query));
      let at = 0;
      for (let i = 0; i < 200; i++) {
        ps[0].push(chunk, at);
        at += chunk.length;
      }
      // kept, they would hold over 200 MB; the queue lets the oldest go past 64 MiB of its estimate
      const grew = retainedHeap() - heap;
      expect(grew).toBeLessThan(80 * 1024 * 1024);
      expect(ps[0].push(query, at)).toHaveLength(1); // and it still reads requests
    });
  });
});
