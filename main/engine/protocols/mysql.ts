/**
 * MySQL client/server protocol over reassembled streams: the handshake (server version,
 * connection id, auth plugin), the client's login (user, database, auth plugin, attributes; a TLS
 * switch is noticed and stops both sides), the auth exchange (switch, more data, OK / ERR), then
 * commands paired in order with their responses: COM_QUERY (with query attributes), prepared
 * statements (prepare → statement id, params, columns; execute with its parameters decoded;
 * close / reset / long data), OK / ERR / EOF, text and binary result sets (column names and types,
 * row count, first rows), several result sets per command, LOCAL INFILE. The compressed protocol
 * is noticed (both sides stop, saying so) — its bytes are zlib, which is the service layer's job.
 *
 * Packets come from the shared length-prefix framer: whole packets are views, split ones are the
 * only copies, and only their first `keep` bytes are kept (a 16 MB blob costs 64 KiB). Logical
 * packets longer than 16 MB (payload 0xffffff, continued) are read from their first part.
 * After a gap each side waits for a segment that starts with a packet it can resume at: the
 * client at a command (sequence 0), the server at a response's first packet (sequence 1).
 */
import { copyBytes } from '../util/bytes';
import { Cursor } from './cursor';
import { Framer, type FramingRules } from './framing';
import { Queue, textCost } from './queue';
import { option, type Direction, type DirectionParser, type ProtocolMessage, type ProtocolPlugin } from './types';

const MAX_GARBAGE = 64 * 1024;
const CONTINUED = 0xffffff;

const CLIENT_CONNECT_WITH_DB = 0x8;
const CLIENT_COMPRESS = 0x20;
const CLIENT_PROTOCOL_41 = 0x200;
const CLIENT_SSL = 0x800;
const CLIENT_SECURE_CONNECTION = 0x8000;
const CLIENT_PLUGIN_AUTH = 0x80000;
const CLIENT_CONNECT_ATTRS = 0x100000;
const CLIENT_LENENC_AUTH_DATA = 0x200000;
const CLIENT_SESSION_TRACK = 0x800000;
const CLIENT_DEPRECATE_EOF = 0x1000000;
const CLIENT_ZSTD_COMPRESSION = 0x4000000;
const CLIENT_QUERY_ATTRIBUTES = 0x8000000;
const SERVER_MORE_RESULTS_EXISTS = 0x8;

/** Command bytes and the names MySQL's sources give them. */
const COMMANDS = [
  'SLEEP', 'QUIT', 'INIT_DB', 'QUERY', 'FIELD_LIST', 'CREATE_DB', 'DROP_DB', 'REFRESH', 'SHUTDOWN', 'STATISTICS',
  'PROCESS_INFO', 'CONNECT', 'PROCESS_KILL', 'DEBUG', 'PING', 'TIME', 'DELAYED_INSERT', 'CHANGE_USER', 'BINLOG_DUMP',
  'TABLE_DUMP', 'CONNECT_OUT', 'REGISTER_SLAVE', 'STMT_PREPARE', 'STMT_EXECUTE', 'STMT_SEND_LONG_DATA', 'STMT_CLOSE',
  'STMT_RESET', 'SET_OPTION', 'STMT_FETCH', 'DAEMON', 'BINLOG_DUMP_GTID', 'RESET_CONNECTION',
];
const QUIT = 0x01, QUERY = 0x03, FIELD_LIST = 0x04, STATISTICS = 0x09, CHANGE_USER = 0x11, BINLOG_DUMP = 0x12;
const PREPARE = 0x16, EXECUTE = 0x17, LONG_DATA = 0x18, CLOSE = 0x19, FETCH = 0x1c, BINLOG_DUMP_GTID = 0x1e;
/** Commands the server does not answer. */
const UNANSWERED = new Set([QUIT, LONG_DATA, CLOSE]);

export interface MysqlColumn {
  name: string;
  table: string;
  type: number;
  unsigned: boolean;
}

interface Statement {
  sql: string | null;
  params: number;
  paramTypes: { type: number; unsigned: boolean }[] | null;
}

/** Prepared statements a connection may hold (the server's own default, max_prepared_stmt_count, is 16,382 for all). */
export const MYSQL_MAX_STATEMENTS = 16384;
/** SQL text kept for them. */
export const MYSQL_STATEMENT_BYTES = 32 * 1024 * 1024;
/** Columns described per result set (MySQL's own limit on a table); more are counted. */
export const MYSQL_MAX_COLUMNS = 4096;

/**
 * The connection's prepared statements, by id. Bounded: a capture that prepares without closing
 * must not grow memory with the input; past either limit the oldest is forgotten, and executing
 * it reads as a statement prepared before the capture began.
 */
class Statements {
  private readonly byId = new Map<number, Statement>();
  private bytes = 0;

  get(id: number): Statement | undefined {
    return this.byId.get(id);
  }

  get size(): number {
    return this.byId.size;
  }

  set(id: number, st: Statement): void {
    this.delete(id);
    this.byId.set(id, st);
    this.bytes += st.sql?.length ?? 0;
    while (this.byId.size > MYSQL_MAX_STATEMENTS || this.bytes > MYSQL_STATEMENT_BYTES) this.delete(this.byId.keys().next().value!);
  }

  delete(id: number): void {
    const st = this.byId.get(id);
    if (!st) return;
    this.bytes -= st.sql?.length ?? 0;
    this.byId.delete(id);
  }
}

interface Command {
  code: number;
  name: string;
  sql: string | null;
  statement: number | null;
}

/** What both directions of a connection know. */
interface Conn {
  server: number | null; // capability flags from the handshake
  client: number | null; // from the login
  pending: Queue<Command>; // commands waiting for their response, oldest first
  statements: Statements;
  /** TLS, compression, binlog: the rest of the connection is not MySQL packets we read. */
  handover: string | null;
  /** Options: bytes of a packet kept, rows of a result set kept. */
  keep: number;
  firstRows: number;
}

/** Capabilities both ends agreed on; unknown ends count as "anything". */
function caps(c: Conn): number {
  return (c.client ?? -1) & (c.server ?? -1);
}

const framing = (dir: Direction, keep: number): FramingRules => ({
  headerLength: 4,
  keep,
  frameLength: (h) => 4 + (h[0] | (h[1] << 8) | (h[2] << 16)),
  resumesAt: (b) => {
    if (b.length < 5) return false;
    const len = b[0] | (b[1] << 8) | (b[2] << 16);
    if (dir === 0) return b[3] === 0 && len >= 1 && b[4] < COMMANDS.length;
    return b[3] === 1 && len >= 1 && (b[4] === 0 ? len >= 7 : b[4] === 0xff ? len >= 3 : b[4] <= 250);
  },
});

/** Gathers continued packets (0xffffff payloads) into one logical packet read from its first part. */
abstract class PacketParser implements DirectionParser {
  private framer: Framer;
  private held: { head: Uint8Array; start: number; seq: number } | null = null;
  protected out: ProtocolMessage[] = [];
  private own: string | null = null;

  constructor(
    protected readonly dir: Direction,
    protected readonly conn: Conn,
  ) {
    this.framer = new Framer(framing(dir, conn.keep));
  }

  get stopped(): string | null {
    return this.own ?? this.conn.handover;
  }

  protected stop(reason: string): void {
    this.own = reason;
  }

  push(b: Uint8Array, at: number): ProtocolMessage[] {
    if (this.stopped) return [];
    const wasLost = this.framer.lost;
    this.framer.push(b, at, (frame, start, total, damaged) => {
      if (this.stopped) return;
      if (wasLost) this.resumed();
      const payloadLength = total - 4;
      if (this.held) {
        if (payloadLength === CONTINUED) return;
        const h = this.held;
        this.held = null;
        return this.packet(h.head, h.seq, h.start, start + total, true);
      }
      if (payloadLength === CONTINUED) {
        this.held = { head: copyBytes(frame, 4), start, seq: frame[3] };
        return;
      }
      if (damaged) return this.damaged(frame[3], start, start + total);
      this.packet(frame.subarray(4), frame[3], start, start + total, payloadLength + 4 > frame.length);
    });
    if (this.framer.garbage > MAX_GARBAGE) this.stop('no MySQL packet found in 64 KiB after a gap');
    const out = this.out;
    this.out = [];
    return out;
  }

  gap(length: number): void {
    if (this.stopped) return;
    const wasLost = this.framer.lost;
    this.framer.gap(length);
    if (this.framer.lost && !wasLost) {
      this.held = null;
      this.lostFraming();
    }
  }

  end(): ProtocolMessage[] {
    return [];
  }

  protected emit(kind: string, start: number, end: number, summary: string, fields: Record<string, unknown>): void {
    this.out.push({ kind, dir: this.dir, start, end, summary, fields });
  }

  /** A whole logical packet: its payload (maybe cut at `keep`: `truncated`), sequence id, range. */
  protected abstract packet(p: Uint8Array, seq: number, start: number, end: number, truncated: boolean): void;
  /** A packet a gap fell into: framing kept, content unknown. */
  protected abstract damaged(seq: number, start: number, end: number): void;
  protected abstract lostFraming(): void;
  protected abstract resumed(): void;
}

class ClientParser extends PacketParser {
  private loggedIn = false;
  private commands = 0;

  protected packet(p: Uint8Array, seq: number, start: number, end: number, truncated: boolean): void {
    if (seq === 0 && p.length > 0) return this.command(p, start, end, truncated);
    if (!this.loggedIn && this.commands === 0 && seq === 1) return this.login(p, start, end);
    this.emit(this.commands === 0 ? 'auth' : 'data', start, end, this.commands === 0 ? `auth data (${p.length} bytes)` : `data (${end - start - 4} bytes)`, { seq });
  }

  protected damaged(seq: number, start: number, end: number): void {
    if (seq === 0) this.conn.pending.push({ code: -1, name: 'unknown (gap)', sql: null, statement: null });
    this.emit(seq === 0 ? 'request' : 'data', start, end, 'packet with a gap', { seq, incomplete: true });
  }

  protected lostFraming(): void {}
  protected resumed(): void {}

  private login(p: Uint8Array, start: number, end: number): void {
    this.loggedIn = true;
    const c = new Cursor(p);
    let flags = c.uint(2);
    const f: Record<string, unknown> = {};
    if (flags & CLIENT_PROTOCOL_41) {
      flags += c.uint(2) * 0x10000;
      f.maxPacket = c.uint(4);
      f.charset = c.u8();
      c.bytes(23);
      if (p.length === 32) {
        this.conn.client = flags;
        if (flags & CLIENT_SSL) {
          this.emit('tls', start, end, 'SSL request: the rest is TLS', { flags });
          this.conn.handover = 'TLS (the client asked for SSL)';
          return;
        }
      }
      f.user = c.cstring();
      if (flags & CLIENT_LENENC_AUTH_DATA) c.bytes(lenenc(c) ?? 0);
      else if (flags & CLIENT_SECURE_CONNECTION) c.bytes(c.u8());
      else c.cstring();
      if (flags & CLIENT_CONNECT_WITH_DB) f.database = c.cstring();
      if (flags & CLIENT_PLUGIN_AUTH) f.authPlugin = c.cstring();
      if (flags & CLIENT_CONNECT_ATTRS && !c.bad) f.attributes = attributes(c);
    } else {
      // HandshakeResponse320: 2 bytes of flags, 3 of max packet, user, auth data
      f.maxPacket = c.uint(3);
      f.user = c.cstring();
      if (flags & CLIENT_CONNECT_WITH_DB) {
        c.cstring();
        f.database = c.cstring();
      }
    }
    f.flags = flags;
    this.conn.client = flags;
    const compressed = flags & (CLIENT_COMPRESS | CLIENT_ZSTD_COMPRESSION);
    f.compressed = compressed !== 0;
    const db = f.database ? ` db=${f.database}` : '';
    const plugin = f.authPlugin ? ` plugin=${f.authPlugin}` : '';
    this.emit('login', start, end, `login user=${f.user}${db}${plugin}${compressed ? ' (compressed protocol)' : ''}`, f);
    if (compressed) this.conn.handover = `compressed protocol (${flags & CLIENT_COMPRESS ? 'zlib' : 'zstd'}) after the login: not decoded`;
  }

  private command(p: Uint8Array, start: number, end: number, truncated: boolean): void {
    this.commands++;
    const code = p[0];
    const name = COMMANDS[code] ?? `0x${code.toString(16)}`;
    const c = new Cursor(p, 1);
    const cmd: Command = { code, name, sql: null, statement: null };
    const f: Record<string, unknown> = { command: `COM_${name}` };
    let summary = name;
    if (code === QUERY) {
      const attrs = this.conn.client === null ? p.length > 2 && p[1] < 0x20 : (caps(this.conn) & CLIENT_QUERY_ATTRIBUTES) !== 0;
      if (attrs) {
        const n = lenenc(c) ?? 0;
        lenenc(c); // parameter sets: always 1
        if (n > 0) f.attributes = this.parameters(c, n, null);
      }
      cmd.sql = c.rest();
      summary = cmd.sql;
      f.sql = cmd.sql;
    } else if (code === PREPARE) {
      cmd.sql = c.rest();
      summary = `PREPARE ${cmd.sql}`;
      f.sql = cmd.sql;
    } else if (code === EXECUTE || code === CLOSE || code === LONG_DATA || code === FETCH || code === 0x1a) {
      const id = c.uint(4);
      cmd.statement = id;
      const st = this.conn.statements.get(id);
      f.statement = id;
      if (st?.sql) f.sql = st.sql;
      summary = `${name} ${id}${st?.sql ? ` (${st.sql})` : ''}`;
      if (code === EXECUTE) {
        f.cursor = c.u8();
        c.uint(4); // iteration count: always 1
        if (st && st.params > 0) {
          const values = this.parameters(c, st.params, st);
          f.params = values;
          if (values) summary += ` [${values.map(show).join(', ')}]`;
        }
      }
      if (code === CLOSE) this.conn.statements.delete(id);
    } else if (code === 0x02 || code === 0x05 || code === 0x06) {
      f.schema = c.rest();
      summary = `${name} ${f.schema}`;
    } else if (code === FIELD_LIST) {
      f.table = c.cstring();
      summary = `${name} ${f.table}`;
    } else if (code === 0x0c) {
      f.connection = c.uint(4);
      summary = `${name} ${f.connection}`;
    } else if (code === CHANGE_USER) {
      f.user = c.cstring();
      summary = `${name} ${f.user}`;
    }
    if (truncated) f.truncated = true;
    if (!UNANSWERED.has(code)) this.conn.pending.push(cmd);
    this.emit('request', start, end, summary, f);
    if (code === BINLOG_DUMP || code === BINLOG_DUMP_GTID) this.conn.handover = 'binlog stream: not decoded';
  }

  /**
   * Binary parameters of an execute (or query attributes): null bitmap, then types when the
   * client sends them (kept on the statement for the next execute), then the values.
   */
  private parameters(c: Cursor, n: number, st: Statement | null): unknown[] | null {
    const nulls = c.bytes((n + 7) >> 3);
    const bound = c.u8();
    let types = st?.paramTypes ?? null;
    let names: string[] | null = null;
    if (bound === 1) {
      types = [];
      for (let k = 0; k < n; k++) {
        const t = c.u8();
        types.push({ type: t, unsigned: (c.u8() & 0x80) !== 0 });
      }
      if (!st) names = Array.from({ length: n }, () => lenstr(c) ?? '');
      if (st) st.paramTypes = types;
    }
    if (!types || c.bad) return null;
    const values: unknown[] = [];
    for (let k = 0; k < n; k++) {
      if (nulls[k >> 3] & (1 << (k & 7))) values.push(null);
      else {
        const v = binaryValue(c, types[k].type, types[k].unsigned);
        if (v === undefined) return values;
        values.push(v);
      }
    }
    return names ? values.map((v, k) => ({ name: names![k], value: v })) : values;
  }
}

type Phase = 'start' | 'auth' | 'command';

/** A response spanning several packets (result sets, prepare responses, field lists). */
interface Reply {
  start: number;
  command: Command | null;
  state: 'params' | 'params-eof' | 'columns' | 'columns-eof' | 'rows';
  left: number;
  columns: MysqlColumn[];
  /** Columns past MYSQL_MAX_COLUMNS: counted, not described (their rows are counted, not decoded). */
  moreColumns: number;
  rows: number;
  firstRows: unknown[][];
  binary: boolean;
  statement: number | null;
  params: number;
  /** A prepare response: the columns announced, described after the params. */
  later: number;
}

class ServerParser extends PacketParser {
  private phase: Phase = 'start';
  private reply: Reply | null = null;
  /** Result sets already answered for the command at the head (SERVER_MORE_RESULTS_EXISTS). */
  private set = 0;

  protected lostFraming(): void {
    this.reply = null;
  }

  /** Responses for the lost part never come: only the newest pending command can be answered next. */
  protected resumed(): void {
    this.phase = 'command';
    this.set = 0;
    this.conn.pending.keepNewest(1);
  }

  protected damaged(_seq: number, start: number, end: number): void {
    if (this.reply) return this.more(new Uint8Array(0), end); // a column or row with a hole: counted
    this.emit('response', start, end, 'packet with a gap', { incomplete: true });
  }

  protected packet(p: Uint8Array, seq: number, start: number, end: number): void {
    if (this.reply) return this.more(p, end);
    if (p.length === 0) return this.emit('response', start, end, 'empty packet', { unexpected: null });
    if (this.phase === 'start') {
      this.phase = 'command';
      if (seq === 0 && p[0] === 10) return this.handshake(p, start, end);
      if (seq === 0 && p[0] === 0xff) return this.emit('response', start, end, `connection refused: ${errorText(p, false)}`, error(p, false));
    }
    if (this.phase === 'auth') return this.auth(p, start, end);
    const command = this.conn.pending.peek() ?? null;
    if (command?.code === CHANGE_USER && (p[0] === 0xfe || p[0] === 0x01)) return this.authPacket(p, start, end);
    const c = new Cursor(p);
    const first = p[0];
    if (first === 0xff) return this.done(start, end, `ERR ${errorText(p, true)}`, error(p, true), command);
    if (command?.code === STATISTICS) {
      const statistics = c.rest();
      return this.done(start, end, statistics, { statistics }, command);
    }
    if (command?.code === PREPARE && first === 0 && p.length >= 12) {
      c.p = 1;
      const statement = c.uint(4);
      const columns = c.uint(2);
      const params = c.uint(2);
      c.u8();
      this.conn.statements.set(statement, { sql: command.sql, params, paramTypes: null });
      const r = this.start(start, command, params > 0 ? 'params' : 'columns', params > 0 ? params : columns);
      r.statement = statement;
      r.params = params;
      r.later = columns;
      if (r.left === 0) this.finishPrepare(r, end);
      return;
    }
    if (command?.code === FIELD_LIST) {
      const r = this.start(start, command, 'columns', Infinity);
      return this.more(p, end, r);
    }
    if (first === 0 && p.length >= 7) {
      const o = ok(p, caps(this.conn));
      return this.done(start, end, `OK${okText(o)}`, { ok: o }, command, o.status);
    }
    if (first === 0xfe && p.length < 9) return this.done(start, end, 'EOF', { eof: true }, command);
    if (first === 0xfb) {
      // the client sends the file, then the server's OK answers the same command: it stays pending
      const file = new Cursor(p, 1).rest();
      return this.emit('response', start, end, `LOCAL INFILE ${file}`, { command: command ? `COM_${command.name}` : null, localInfile: file });
    }
    const count = lenenc(c);
    if (count === null || c.bad || count === 0) return this.done(start, end, `unexpected packet 0x${first.toString(16)}`, { unexpected: first }, command);
    const r = this.start(start, command, 'columns', count);
    r.binary = command?.code === EXECUTE || command?.code === FETCH;
  }

  private start(start: number, command: Command | null, state: Reply['state'], left: number): Reply {
    this.reply = { start, command, state, left, columns: [], moreColumns: 0, rows: 0, firstRows: [], binary: false, statement: null, params: 0, later: 0 };
    return this.reply;
  }

  /** The next packet of a multi-packet response. */
  private more(p: Uint8Array, end: number, r = this.reply!): void {
    const cap = caps(this.conn);
    const deprecateEof = this.conn.client !== null && this.conn.server !== null && (cap & CLIENT_DEPRECATE_EOF) !== 0;
    const first = p[0];
    const eof = first === 0xfe && p.length < 9;
    // 0xff starts no column definition (a catalog length), no text row (a length) and no binary row
    if (first === 0xff) {
      this.reply = null;
      return this.done(r.start, end, `ERR ${errorText(p, true)}`, { ...this.replyFields(r), ...error(p, true) }, r.command);
    }
    switch (r.state) {
      case 'params':
      case 'columns': {
        if (eof && r.left === Infinity) return this.finishFieldList(r, end);
        if (r.state === 'columns') {
          if (r.columns.length < MYSQL_MAX_COLUMNS) r.columns.push(column(p, cap));
          else r.moreColumns++;
        }
        if (--r.left > 0) return;
        if (r.state === 'params') {
          if (deprecateEof) return this.afterParams(r, end);
          r.state = 'params-eof';
          return;
        }
        if (r.statement !== null) {
          if (deprecateEof) return this.finishPrepare(r, end);
          r.state = 'columns-eof';
          return;
        }
        r.state = deprecateEof ? 'rows' : 'columns-eof';
        return;
      }
      case 'params-eof':
        return this.afterParams(r, end);
      case 'columns-eof':
        if (r.statement !== null) return this.finishPrepare(r, end);
        r.state = 'rows';
        if (eof) return;
        // a server that sent no EOF after the columns (deprecated EOF, capabilities unseen)
        return this.more(p, end, r);
      case 'rows': {
        if (first === 0xfe && p.length < (deprecateEof ? CONTINUED : 9)) {
          const status = deprecateEof ? ok(p, cap).status : new Cursor(p, 3).uint(2);
          this.reply = null;
          const f = this.replyFields(r);
          const cols = r.columns.length + r.moreColumns;
          return this.done(r.start, end, `${cols} column${cols === 1 ? '' : 's'}, ${r.rows} row${r.rows === 1 ? '' : 's'}`, f, r.command, status);
        }
        if (r.firstRows.length < this.conn.firstRows && r.moreColumns === 0) r.firstRows.push(r.binary ? binaryRow(p, r.columns) : textRow(p, r.columns.length));
        r.rows++;
      }
    }
  }

  private afterParams(r: Reply, end: number): void {
    r.state = 'columns';
    r.left = r.later;
    if (r.left === 0) this.finishPrepare(r, end);
  }

  private finishPrepare(r: Reply, end: number): void {
    this.reply = null;
    const cols = r.columns.length + r.moreColumns;
    this.done(r.start, end, `statement ${r.statement} prepared: ${r.params} param${r.params === 1 ? '' : 's'}, ${cols} column${cols === 1 ? '' : 's'}`, { statement: r.statement, params: r.params, columns: r.columns }, r.command);
  }

  private finishFieldList(r: Reply, end: number): void {
    this.reply = null;
    this.done(r.start, end, `${r.columns.length + r.moreColumns} columns`, { columns: r.columns, ...(r.moreColumns ? { moreColumns: r.moreColumns } : {}) }, r.command);
  }

  private replyFields(r: Reply): Record<string, unknown> {
    return { columns: r.columns, ...(r.moreColumns ? { moreColumns: r.moreColumns } : {}), rows: r.rows, firstRows: r.firstRows };
  }

  /** A response is complete; the command is answered unless more result sets follow. */
  private done(start: number, end: number, summary: string, fields: Record<string, unknown>, command: Command | null, status = 0): void {
    const more = (status & SERVER_MORE_RESULTS_EXISTS) !== 0;
    if (command && !more) this.conn.pending.shift();
    const set = this.set;
    this.set = more ? this.set + 1 : 0;
    const f = { command: command ? `COM_${command.name}` : null, ...(command?.sql ? { sql: command.sql } : {}), ...fields, ...(more ? { moreResults: true } : {}), ...(set > 0 ? { resultSet: set + 1 } : {}) };
    this.emit('response', start, end, command ? `${summary} (${command.name})` : summary, f);
  }

  private handshake(p: Uint8Array, start: number, end: number): void {
    const c = new Cursor(p, 1);
    const version = c.cstring();
    const connection = c.uint(4);
    c.bytes(9); // auth data part 1 and a filler
    let flags = c.uint(2);
    const f: Record<string, unknown> = { version, connection };
    if (c.left > 0) {
      f.charset = c.u8();
      f.status = c.uint(2);
      flags += c.uint(2) * 0x10000;
      const authLength = c.u8();
      c.bytes(10);
      if (flags & CLIENT_SECURE_CONNECTION) c.bytes(Math.max(13, authLength - 8));
      if (flags & CLIENT_PLUGIN_AUTH) f.authPlugin = c.cstring();
    }
    f.flags = flags;
    this.conn.server = flags;
    this.phase = 'auth';
    this.emit('handshake', start, end, `server ${version}, connection ${connection}${f.authPlugin ? `, auth ${f.authPlugin}` : ''}${flags & CLIENT_SSL ? ', offers TLS' : ''}`, f);
  }

  private auth(p: Uint8Array, start: number, end: number): void {
    if (p[0] === 0x00) {
      this.phase = 'command';
      return this.emit('auth', start, end, 'auth OK', { ok: ok(p, caps(this.conn)) });
    }
    if (p[0] === 0xff) {
      this.phase = 'command';
      return this.emit('auth', start, end, `auth failed: ERR ${errorText(p, true)}`, error(p, true));
    }
    this.authPacket(p, start, end);
  }

  private authPacket(p: Uint8Array, start: number, end: number): void {
    const c = new Cursor(p, 1);
    if (p[0] === 0xfe) {
      const plugin = c.cstring();
      return this.emit('auth', start, end, `auth switch to ${plugin || 'mysql_old_password'}`, { authPlugin: plugin });
    }
    if (p[0] === 0x01) {
      const more = p.length === 2 && p[1] === 3 ? 'fast auth OK' : p.length === 2 && p[1] === 4 ? 'full authentication required' : `more data (${p.length - 1} bytes)`;
      return this.emit('auth', start, end, `auth ${more}`, { more: p.subarray(1, 3).length === 1 ? p[1] : null });
    }
    this.emit('auth', start, end, `auth packet 0x${(p[0] ?? 0).toString(16)}`, {});
  }
}

function lenenc(c: Cursor): number | null {
  const f = c.u8();
  if (f < 0xfb) return f;
  if (f === 0xfb) return null;
  if (f === 0xfc) return c.uint(2);
  if (f === 0xfd) return c.uint(3);
  if (f === 0xfe) return c.uint(8);
  c.bad = true;
  return null;
}

function lenstr(c: Cursor): string | null {
  const n = lenenc(c);
  return n === null ? null : c.text(n);
}

function attributes(c: Cursor): Record<string, string> {
  const out: Record<string, string> = {};
  const end = c.p + (lenenc(c) ?? 0) + 1;
  while (c.p < Math.min(end - 1, c.b.length) && !c.bad) {
    const k = lenstr(c) ?? '';
    out[k] = lenstr(c) ?? '';
  }
  return out;
}

function column(p: Uint8Array, cap: number): MysqlColumn {
  const c = new Cursor(p);
  if (cap & CLIENT_PROTOCOL_41) {
    lenstr(c); // catalog
    lenstr(c); // schema
    const table = lenstr(c) ?? '';
    lenstr(c); // original table
    const name = lenstr(c) ?? '';
    lenstr(c); // original name
    lenenc(c);
    c.uint(2); // charset
    c.uint(4); // length
    const type = c.u8();
    const flags = c.uint(2);
    return { name, table, type, unsigned: (flags & 0x20) !== 0 };
  }
  const table = lenstr(c) ?? '';
  const name = lenstr(c) ?? '';
  return { name, table, type: 0, unsigned: false };
}

interface Ok {
  affectedRows: number;
  lastInsertId: number;
  status: number;
  warnings: number;
  info: string;
}

function ok(p: Uint8Array, cap: number): Ok {
  const c = new Cursor(p, 1);
  const affectedRows = lenenc(c) ?? 0;
  const lastInsertId = lenenc(c) ?? 0;
  const status = c.uint(2);
  const warnings = cap & CLIENT_PROTOCOL_41 ? c.uint(2) : 0;
  const info = c.left > 0 ? (cap & CLIENT_SESSION_TRACK && c.b.length > 7 ? (lenstr(c) ?? '') : c.rest()) : '';
  return { affectedRows, lastInsertId, status, warnings, info };
}

function okText(o: Ok): string {
  const rows = o.affectedRows ? `, ${o.affectedRows} row${o.affectedRows === 1 ? '' : 's'} affected` : '';
  const id = o.lastInsertId ? `, insert id ${o.lastInsertId}` : '';
  const warn = o.warnings ? `, ${o.warnings} warning${o.warnings === 1 ? '' : 's'}` : '';
  return `${rows}${id}${warn}${o.info ? `: ${o.info}` : ''}`;
}

function error(p: Uint8Array, sqlState: boolean): { error: { code: number; state: string | null; message: string } } {
  const c = new Cursor(p, 1);
  const code = c.uint(2);
  let state: string | null = null;
  if (sqlState && p[3] === 0x23) {
    c.u8();
    state = c.text(5);
  }
  return { error: { code, state, message: c.rest() } };
}

function errorText(p: Uint8Array, sqlState: boolean): string {
  const { code, state, message } = error(p, sqlState).error;
  return `${code}${state ? ` (${state})` : ''}: ${message}`;
}

function textRow(p: Uint8Array, n: number): unknown[] {
  const c = new Cursor(p);
  const row: unknown[] = [];
  for (let k = 0; k < n && !c.bad; k++) {
    const len = lenenc(c);
    row.push(len === null ? null : short(c.text(len)));
  }
  return row;
}

function binaryRow(p: Uint8Array, cols: MysqlColumn[]): unknown[] {
  const c = new Cursor(p, 1);
  const nulls = c.bytes((cols.length + 9) >> 3);
  const row: unknown[] = [];
  for (let k = 0; k < cols.length; k++) {
    const bit = k + 2;
    if (nulls[bit >> 3] & (1 << (bit & 7))) row.push(null);
    else {
      const v = binaryValue(c, cols[k].type, cols[k].unsigned);
      if (v === undefined) break;
      row.push(v);
    }
  }
  return row;
}

/** One value of the binary protocol, or undefined when the type is unknown or the bytes end. */
function binaryValue(c: Cursor, type: number, unsigned: boolean): unknown {
  let v: unknown;
  switch (type) {
    case 0x01: v = unsigned ? c.uint(1) : c.int(1); break;
    case 0x02:
    case 0x0d: v = unsigned ? c.uint(2) : c.int(2); break;
    case 0x03:
    case 0x09: v = unsigned ? c.uint(4) : c.int(4); break;
    case 0x08: v = unsigned ? c.uint(8) : c.int(8); break;
    case 0x04: v = c.f32(); break;
    case 0x05: v = c.f64(); break;
    case 0x06: v = null; break;
    case 0x07:
    case 0x0a:
    case 0x0c: {
      const n = c.u8();
      const d = new Cursor(c.bytes(n));
      const [y, mo, da, h, mi, s] = [d.uint(2), d.u8(), d.u8(), d.u8(), d.u8(), d.u8()];
      const us = n >= 11 ? d.uint(4) : 0;
      const date = `${String(y).padStart(4, '0')}-${two(mo)}-${two(da)}`;
      v = type === 0x0a || n <= 4 ? date : `${date} ${two(h)}:${two(mi)}:${two(s)}${us ? `.${String(us).padStart(6, '0')}` : ''}`;
      break;
    }
    case 0x0b: {
      const n = c.u8();
      const d = new Cursor(c.bytes(n));
      const neg = d.u8();
      const days = d.uint(4);
      const [h, mi, s] = [d.u8(), d.u8(), d.u8()];
      const us = n >= 12 ? d.uint(4) : 0;
      v = `${neg ? '-' : ''}${two(days * 24 + h)}:${two(mi)}:${two(s)}${us ? `.${String(us).padStart(6, '0')}` : ''}`;
      break;
    }
    case 0x0f: case 0x10: case 0xf5: case 0xf6: case 0xf7: case 0xf8: case 0xf9: case 0xfa: case 0xfb: case 0xfc: case 0xfd: case 0xfe: case 0xff: {
      const n = lenenc(c);
      v = n === null ? null : short(c.text(n));
      break;
    }
    default:
      return undefined;
  }
  return c.bad ? undefined : v;
}

const two = (n: number) => String(n).padStart(2, '0');
const short = (s: string) => (s.length > 256 ? `${s.slice(0, 256)}…` : s);
const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v) : String(v));

export const mysqlPlugin: ProtocolPlugin = {
  name: 'mysql',
  version: '1.0',
  bpf: 'tcp port 3306',
  ports: [3306],
  detect(first, dir) {
    if (first.length < 5) return false;
    const len = first[0] | (first[1] << 8) | (first[2] << 16);
    if (dir === 1) {
      // the server's greeting: protocol 10, a printable version ending in NUL
      if (first[3] !== 0 || first[4] !== 10 || len < 20) return false;
      const z = first.indexOf(0, 5);
      return z > 5 && first.subarray(5, z).every((x) => x >= 0x20 && x < 0x7f);
    }
    if (first[3] === 1 && first.length >= 36 && len >= 32) {
      // a login: protocol 4.1 flag and 23 zero bytes of filler
      const flags = first[4] | (first[5] << 8);
      return (flags & CLIENT_PROTOCOL_41) !== 0 && first.subarray(13, 36).every((x) => x === 0);
    }
    // a capture that starts after the login: COM_QUERY with text
    return first[3] === 0 && first[4] === QUERY && len > 1 && first.subarray(5, Math.min(first.length, 4 + len)).every((x) => x >= 0x20 || x === 9 || x === 10 || x === 13);
  },
  options: [
    { name: 'keep', description: 'bytes of each packet kept (SQL text, rows); the rest is counted', default: 64 * 1024, min: 1024, max: 16 << 20 },
    { name: 'firstRows', description: 'rows of each result set kept', default: 5, min: 0, max: 100_000 },
  ],
  parsers(_host, options) {
    const keep = option(mysqlPlugin, options, 'keep');
    const firstRows = option(mysqlPlugin, options, 'firstRows');
    const conn: Conn = { server: null, client: null, pending: new Queue((c) => textCost(c.name, c.sql)), statements: new Statements(), handover: null, keep, firstRows };
    return [new ClientParser(0, conn), new ServerParser(1, conn)];
  },
};
