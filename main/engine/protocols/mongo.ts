/**
 * MongoDB wire protocol over reassembled streams: OP_MSG (sections, checksum and more-to-come
 * flags), the legacy OP_QUERY / OP_REPLY and OP_COMMAND / OP_COMMANDREPLY, the older write and
 * cursor opcodes, and OP_COMPRESSED (the no-op compressor is read here, zlib through the host's
 * `inflate` — node's zlib, given by the service layer — and snappy and zstd are noticed).
 * Requests and replies are paired by requestID / responseTo; a reply with more-to-come (exhaust
 * cursors) passes its command on to the reply that answers it.
 *
 * The engine does not decode documents: it keeps each document's bytes (copied, bounded by
 * the `keep` option per message) for the service layer's BSON decoder, and reads only what a one-line summary
 * needs — the command (the first key of the command document), its collection (that key's
 * string value) and database, and ok / errmsg / n of a reply — with a small top-level walk.
 */
import { copyBytes } from '../util/bytes';
import { Cursor } from './cursor';
import { Framer } from './framing';
import { option, type Direction, type DirectionParser, type ParserHost, type ProtocolMessage, type ProtocolPlugin } from './types';

const MAX_MESSAGE = 48_000_000; // the server's maxMessageSizeBytes
const MAX_GARBAGE = 64 * 1024;

/** MongoDB wire protocol opcodes, by name. */
export const OP = { REPLY: 1, UPDATE: 2001, INSERT: 2002, QUERY: 2004, GET_MORE: 2005, DELETE: 2006, KILL_CURSORS: 2007, COMMAND: 2010, COMMANDREPLY: 2011, COMPRESSED: 2012, MSG: 2013 } as const;
/** Opcode → its name as the protocol documents it (OP_MSG, …). */
export const OPCODES: Record<number, string> = Object.fromEntries(Object.entries(OP).map(([name, code]) => [code, `OP_${name}`]));
const COMPRESSORS = ['noop', 'snappy', 'zlib', 'zstd'];
const REPLIES = new Set<number>([OP.REPLY, OP.COMMANDREPLY]);
/** Opcodes only clients send. */
const REQUESTS = new Set<number>([OP.UPDATE, OP.INSERT, OP.QUERY, OP.GET_MORE, OP.DELETE, OP.KILL_CURSORS, OP.COMMAND]);

/** A BSON document's bytes, as captured (`complete` false when cut at `keep` or by a gap). */
export interface MongoDocument {
  bytes: Uint8Array;
  complete: boolean;
}

/** What one message's body says, before documents are decoded. */
export interface MongoBody {
  flags?: number;
  checksum?: boolean;
  moreToCome?: boolean;
  /** OP_MSG kind-1 sections: identifier → documents. */
  sequences?: Record<string, MongoDocument[]>;
  documents: MongoDocument[];
  /** The command document (OP_MSG body, OP_QUERY on $cmd, OP_COMMAND arguments). */
  command?: MongoDocument;
  commandName?: string;
  database?: string;
  collection?: string;
  /** Legacy namespace `db.collection`. */
  namespace?: string;
  cursorId?: string;
  numberReturned?: number;
}

const int32 = (b: Uint8Array, i: number) => (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;

/** One BSON document at the cursor: its bytes (copied), bounded by what was captured. */
function document(c: Cursor): MongoDocument | null {
  if (c.left < 5) return null;
  const size = int32(c.b, c.p);
  if (size < 5) {
    c.bad = true;
    return null;
  }
  const bytes = copyBytes(c.bytes(size));
  return { bytes, complete: bytes.length === size };
}

/**
 * The top-level elements of a document, as far as they can be read: name, type, and the value
 * of numbers, strings and booleans (embedded documents and arrays as views of their bytes).
 */
export function topLevel(doc: Uint8Array, max = 64): { name: string; type: number; value: unknown }[] {
  const out: { name: string; type: number; value: unknown }[] = [];
  const c = new Cursor(doc, 4);
  while (c.left > 1 && out.length < max) {
    const type = c.u8();
    if (type === 0) break;
    const name = c.cstring();
    let value: unknown = undefined;
    switch (type) {
      case 0x01: value = c.f64(); break;
      case 0x02: case 0x0d: case 0x0e: value = c.text(c.uint(4)).replace(/\0$/, ''); break;
      case 0x03: case 0x04: { const n = c.left >= 4 ? int32(c.b, c.p) : 0; value = c.bytes(n); break; }
      case 0x0f: c.bytes(c.left >= 4 ? int32(c.b, c.p) : 0); break;
      case 0x05: c.bytes(c.uint(4) + 1); break;
      case 0x06: case 0x0a: case 0xff: case 0x7f: value = null; break;
      case 0x07: c.bytes(12); break;
      case 0x08: value = c.u8() === 1; break;
      case 0x09: case 0x11: c.bytes(8); break;
      case 0x0b: c.cstring(); c.cstring(); break;
      case 0x0c: c.bytes(c.uint(4)); c.bytes(12); break;
      case 0x10: value = c.int(4); break;
      case 0x12: value = c.int(8); break;
      case 0x13: c.bytes(16); break;
      default: return out; // not BSON: stop here
    }
    if (c.bad) break;
    out.push({ name, type, value });
  }
  return out;
}

/** Reads a message body for `opCode` (the 16-byte header already removed). Never throws. */
export function readMongoBody(opCode: number, body: Uint8Array): MongoBody {
  const c = new Cursor(body);
  const r: MongoBody = { documents: [] };
  const docs = (limit = body.length) => {
    while (c.p < limit && !c.bad) {
      const d = document(c);
      if (!d) break;
      r.documents.push(d);
    }
  };
  switch (opCode) {
    case OP.MSG: {
      const flags = c.uint(4);
      r.flags = flags;
      r.checksum = (flags & 1) !== 0;
      r.moreToCome = (flags & 2) !== 0;
      const end = body.length - (r.checksum ? 4 : 0);
      while (c.p < end && !c.bad) {
        const kind = c.u8();
        if (kind === 0) {
          const d = document(c);
          if (!d) break;
          r.command ??= d;
          r.documents.push(d);
        } else if (kind === 1) {
          const start = c.p;
          const size = c.uint(4);
          const id = c.cstring();
          const list: MongoDocument[] = [];
          const stop = Math.min(end, start + size);
          while (c.p < stop && !c.bad) {
            const d = document(c);
            if (!d) break;
            list.push(d);
          }
          (r.sequences ??= {})[id] = list;
        } else break;
      }
      break;
    }
    case OP.QUERY: {
      r.flags = c.uint(4);
      r.namespace = c.cstring();
      c.uint(8); // numberToSkip, numberToReturn
      docs();
      if (r.namespace.endsWith('.$cmd')) r.command = r.documents[0];
      break;
    }
    case OP.REPLY: {
      r.flags = c.uint(4);
      r.cursorId = c.int64Text();
      c.uint(4); // startingFrom
      r.numberReturned = c.uint(4);
      docs();
      break;
    }
    case OP.COMMAND: {
      r.database = c.cstring();
      r.commandName = c.cstring();
      docs();
      r.command = r.documents[0]; // the arguments, then metadata (as servers send it), then input documents
      break;
    }
    case OP.COMMANDREPLY:
      docs();
      r.command = r.documents[0]; // the reply, then metadata, then output documents
      break;
    case OP.UPDATE:
    case OP.INSERT:
    case OP.GET_MORE:
    case OP.DELETE: {
      c.uint(4); // zero (flags for OP_INSERT)
      r.namespace = c.cstring();
      if (opCode === OP.GET_MORE) {
        c.uint(4);
        r.cursorId = c.int64Text();
      } else {
        if (opCode !== 2002) c.uint(4);
        docs();
      }
      break;
    }
  }
  if (r.command) {
    const els = topLevel(r.command.bytes);
    const first = els[0];
    if (first && !REPLIES.has(opCode)) {
      r.commandName ??= first.name;
      if (typeof first.value === 'string') r.collection = first.value;
    }
    const db = els.find((e) => e.name === '$db');
    if (typeof db?.value === 'string') r.database = db.value;
  }
  if (r.namespace && r.database === undefined) {
    const dot = r.namespace.indexOf('.');
    r.database = dot < 0 ? r.namespace : r.namespace.slice(0, dot);
    if (!r.command) r.collection = dot < 0 ? undefined : r.namespace.slice(dot + 1);
  }
  return r;
}

/** The line for a request (`insert shop.orders`) or a reply (`ok n=1`, `error: …`). */
function mongoSummary(opCode: number, body: MongoBody, reply: boolean): string {
  if (reply) {
    const doc = body.command ?? body.documents[0];
    const els = doc ? topLevel(doc.bytes) : [];
    const get = (k: string) => els.find((e) => e.name === k)?.value;
    const ok = get('ok');
    if (ok === 0 || ok === false) return `error: ${get('errmsg') ?? 'failed'}${get('code') !== undefined ? ` (code ${get('code')})` : ''}`;
    const n = get('n');
    const cursor = get('cursor');
    const batch = cursor instanceof Uint8Array ? topLevel(cursor).find((e) => e.name === 'firstBatch' || e.name === 'nextBatch')?.value : undefined;
    const count = opCode === OP.REPLY ? (body.numberReturned ?? body.documents.length) : batch instanceof Uint8Array ? topLevel(batch, Infinity).length : undefined;
    const docs = count !== undefined ? ` ${count} document${count === 1 ? '' : 's'}` : '';
    const head = ok !== undefined ? 'ok' : opCode === OP.REPLY ? '' : 'reply';
    return `${head}${docs}${n !== undefined ? ` n=${n}` : ''}`.trim();
  }
  const name = body.commandName ?? OPCODES[opCode]?.slice(3).toLowerCase() ?? `opcode ${opCode}`;
  const db = body.database ?? '';
  const target = body.command ? (body.collection !== undefined ? `${db}.${body.collection}` : db) : (body.namespace ?? db);
  return `${name}${target ? ` ${target}` : ''}`;
}

interface Pairing {
  /** requestID → the command line of a request (or a more-to-come reply) still waiting. */
  waiting: Map<number, string>;
}

class MongoParser implements DirectionParser {
  private readonly framer: Framer;
  private out: ProtocolMessage[] = [];
  stopped: string | null = null;

  constructor(
    private readonly dir: Direction,
    private readonly pairing: Pairing,
    private readonly host: ParserHost,
    private readonly keep: number,
  ) {
    this.framer = new Framer({
      headerLength: 16,
      keep,
      frameLength: (h) => {
        const len = int32(h, 0);
        return len >= 16 && len <= MAX_MESSAGE && OPCODES[int32(h, 12)] ? len : -1;
      },
      resumesAt: (b) => b.length >= 16 && int32(b, 0) >= 16 && int32(b, 0) <= MAX_MESSAGE && OPCODES[int32(b, 12)] !== undefined,
    });
  }

  push(b: Uint8Array, at: number): ProtocolMessage[] {
    if (this.stopped) return [];
    this.framer.push(b, at, (frame, start, total, damaged) => this.message(frame, start, total, damaged));
    if (this.framer.garbage > MAX_GARBAGE) this.stopped = 'no MongoDB message found in 64 KiB';
    const out = this.out;
    this.out = [];
    return out;
  }

  private message(frame: Uint8Array, start: number, total: number, damaged: boolean): void {
    const requestID = int32(frame, 4);
    const responseTo = int32(frame, 8);
    let opCode = int32(frame, 12);
    const f: Record<string, unknown> = { opCode: OPCODES[opCode], requestID, responseTo, length: total };
    if (damaged || frame.length < total) f.incomplete = true;
    let body: Uint8Array | null = frame.subarray(16);
    if (opCode === OP.COMPRESSED) {
      const c = new Cursor(body);
      const original = c.uint(4);
      const size = c.uint(4);
      const id = c.u8();
      const compressor = COMPRESSORS[id] ?? `compressor ${id}`;
      f.compressed = { originalOpCode: OPCODES[original] ?? original, uncompressedSize: size, compressor };
      opCode = original;
      const data = body.subarray(9);
      // inflate it all (a zlib stream cannot stop early without an error), keep what the option says
      // (a message cut at `keep` inflates as far as its kept bytes go; one a gap fell into does not)
      body = id === 0 ? data : id === 2 && !damaged && this.host.inflate ? (this.host.inflate(data, size)?.subarray(0, Math.max(0, this.keep - 16)) ?? null) : null;
      if (!body || body.length === 0) f.notDecoded = id === 2 ? 'zlib data cut by a gap or not inflatable' : `${compressor} is not decoded`;
      if (body?.length === 0) body = null;
    }
    const reply = REPLIES.has(opCode) || (!REQUESTS.has(opCode) && (responseTo !== 0 || this.dir === 1));
    const parsed = body ? readMongoBody(opCode, body) : null;
    const compressed = f.compressed ? ` (${(f.compressed as { compressor: string }).compressor})` : '';
    let line = parsed ? mongoSummary(opCode, parsed, reply) : `compressed ${reply ? 'reply' : 'request'}${compressed}`;
    let command: string | null = null;
    if (reply) {
      command = this.pairing.waiting.get(responseTo) ?? null;
      this.pairing.waiting.delete(responseTo);
      if (parsed?.moreToCome && command) this.pairing.waiting.set(requestID, command);
      if (command) line += ` (${command})`;
    } else if (!parsed?.moreToCome) this.pairing.waiting.set(requestID, line);
    if (parsed) Object.assign(f, bodyFields(parsed));
    if (command) f.request = command;
    this.out.push({ kind: reply ? 'response' : 'request', dir: this.dir, start, end: start + total, summary: line, fields: f });
  }

  gap(length: number): void {
    if (!this.stopped) this.framer.gap(length);
  }

  end(): ProtocolMessage[] {
    this.framer.flush((frame, start, total, damaged) => this.message(frame, start, total, damaged));
    const out = this.out;
    this.out = [];
    return out;
  }
}

/** The body's fields for a message record (documents stay bytes until the service decodes them). */
function bodyFields(b: MongoBody): Record<string, unknown> {
  const f: Record<string, unknown> = {};
  for (const k of ['flags', 'checksum', 'moreToCome', 'commandName', 'database', 'collection', 'namespace', 'cursorId', 'numberReturned'] as const) if (b[k] !== undefined) f[k] = b[k];
  f.documents = b.documents;
  if (b.sequences) f.sequences = b.sequences;
  return f;
}

export const mongoPlugin: ProtocolPlugin = {
  name: 'mongodb',
  version: '1.0',
  bpf: 'tcp port 27017',
  ports: [27017],
  detect(first) {
    if (first.length < 21) return false;
    const len = int32(first, 0);
    const op = int32(first, 12);
    if (len < 21 || len > MAX_MESSAGE || !OPCODES[op]) return false;
    // the body must look like its opcode's: a lone opcode number is too weak (PPTP matches it)
    const docAt = (i: number) => first.length < i + 4 || (int32(first, i) >= 5 && int32(first, i) <= len - i);
    const name = (i: number, dot: boolean) => {
      const z = first.indexOf(0, i);
      const end = z < 0 ? first.length : z;
      const s = first.subarray(i, end);
      return s.length > 0 && s.every((x) => x > 0x20 && x < 0x7f) && (!dot || s.includes(0x2e) || z < 0);
    };
    switch (op) {
      case OP.MSG:
        return (int32(first, 16) & ~0x10003) === 0 && (first[20] === 0 ? docAt(21) : first[20] === 1);
      case OP.REPLY:
        return int32(first, 16) < 16 && int32(first, 32) <= (len - 36) / 5 && (int32(first, 32) === 0 || docAt(36));
      case OP.COMMANDREPLY:
        return docAt(16);
      case OP.COMMAND:
        return name(16, false);
      case OP.COMPRESSED:
        return OPCODES[int32(first, 16)] !== undefined && first[24] <= 3;
      default:
        return int32(first, 16) < 256 && name(20, true); // flags or zero, then db.collection
    }
  },
  options: [{ name: 'keep', description: 'bytes of each message kept (its documents); the rest is counted', default: 64 * 1024, min: 1024, max: MAX_MESSAGE }],
  parsers(host = {}, options) {
    const pairing: Pairing = { waiting: new Map() };
    const keep = option(mongoPlugin, options, 'keep');
    return [new MongoParser(0, pairing, host, keep), new MongoParser(1, pairing, host, keep)];
  },
};
