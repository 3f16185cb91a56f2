/**
 * Redis RESP2 and RESP3 over reassembled streams: commands (arrays of bulk strings, or inline
 * commands) and replies of every type, paired in order (pipelining), RESP3 push messages kept
 * apart from replies.
 *
 * Resumable at any byte, with bounded copies: a value is parsed as a small state machine (a stack
 * of open aggregates, the current header line, and a count of bulk bytes still to come); header
 * lines are gathered in a small buffer, bulk strings are counted and only their first `preview`
 * bytes kept — a 100 MB value costs nothing more than a 10-byte one. A gap or a byte that cannot
 * start a RESP value resynchronises at the next line that can; after MAX_GARBAGE bytes the parser
 * stops.
 */
import { appendBytes } from './bytes';
import { Queue } from './queue';
import { option, type Direction, type DirectionParser, type ProtocolMessage, type ProtocolPlugin } from './types';

const MAX_LINE = 64 * 1024;
const MAX_GARBAGE = 64 * 1024;
/** Values kept per message, at every level: past it, elements are counted (`omitted`), not kept — a reply of millions of elements costs no more than one of 65,536. */
export const RESP_KEPT_VALUES = 65536;
/** Aggregates open at once: deeper is not RESP anyone sends (hiredis allows 7), and each level costs memory, so the parser stops. */
export const RESP_MAX_DEPTH = 512;
const dec = new TextDecoder('latin1');

/** A RESP value as kept: type byte, and either scalar text or elements. */
export interface RespValue {
  type: string;
  /** Simple strings, errors, numbers: the text; bulk/verbatim: a preview of the bytes. */
  text?: string;
  /** Bulk length; -1 for a null bulk or a null array. */
  length?: number;
  items?: RespValue[];
  /** Elements of an aggregate counted but not kept (past RESP_KEPT_VALUES in one message). */
  omitted?: number;
}

/** Elements of an aggregate, kept or not. */
function elements(v: RespValue): number {
  return (v.items?.length ?? 0) + (v.omitted ?? 0);
}

interface Frame {
  value: RespValue;
  left: number;
  /** Whether the aggregate itself is kept in its parent (it started within the message's budget). */
  kept: boolean;
}

interface Pairing {
  /** Commands still waiting for their reply, with their argument count. */
  commands: Queue<{ name: string; args: number }>;
  /** Confirmations already seen for the (P|S)(UN)SUBSCRIBE at the head of `commands`. */
  confirmed: number;
  /** RESP2 subscribed mode: arrays starting with `message` are pushes, not replies. */
  subscribed: boolean;
}

/** Pub/sub deliveries and (un)subscribe confirmations, by the first element of the array. */
const DELIVERY = new Set(['message', 'pmessage', 'smessage']);
const CONFIRM = new Set(['subscribe', 'psubscribe', 'ssubscribe', 'unsubscribe', 'punsubscribe', 'sunsubscribe']);

/** What a line's first byte starts: an aggregate, a scalar, a blob (by byte value). */
const AGG = 1;
const SCALAR = 2;
const BLOB = 3;
const KIND: number[] = new Array(256).fill(0);
for (const c of '*%~>|') KIND[c.charCodeAt(0)] = AGG;
for (const c of '+-:_,#(') KIND[c.charCodeAt(0)] = SCALAR;
for (const c of '$!=') KIND[c.charCodeAt(0)] = BLOB;

/** A decimal integer in `b[s, e)` (an optional minus, then digits), or null. */
function integer(b: Uint8Array, s: number, e: number): number | null {
  let neg = false;
  if (s < e && b[s] === 45) {
    neg = true;
    s++;
  }
  if (s >= e || e - s > 15) return null;
  let n = 0;
  for (let k = s; k < e; k++) {
    const d = b[k] - 48;
    if (d < 0 || d > 9) return null;
    n = n * 10 + d;
  }
  return neg ? -n : n;
}

/** Bytes as latin-1 text: short runs by hand (a TextDecoder call costs more than it saves there). */
function latin1(b: Uint8Array, s: number, e: number): string {
  if (e - s > 64) return dec.decode(b.subarray(s, e));
  let out = '';
  for (let k = s; k < e; k++) out += String.fromCharCode(b[k]);
  return out;
}

class RespParser implements DirectionParser {
  private line = new Uint8Array(256);
  private lineLen = 0;
  private stack: Frame[] = [];
  /** Values kept in the message being read. */
  private kept = 0;
  private bulkLeft = 0; // bytes of the current bulk still to come, CRLF included
  private bulk: RespValue | null = null;
  private msgStart = 0;
  private garbage = 0;
  private resync = false;
  stopped: string | null = null;

  constructor(
    private readonly dir: Direction,
    private readonly pairing: Pairing,
    private readonly preview: number,
  ) {}

  push(b: Uint8Array, at: number): ProtocolMessage[] {
    const out: ProtocolMessage[] = [];
    let i = 0;
    while (i < b.length && !this.stopped) {
      if (this.bulkLeft > 0) {
        const n = Math.min(this.bulkLeft, b.length - i);
        const v = this.bulk!;
        const dataLeft = this.bulkLeft - 2; // payload bytes still to come (CRLF after)
        const have = (v.length ?? 0) - Math.max(0, dataLeft);
        if (have < this.preview && dataLeft > 0) {
          const k = Math.min(n, dataLeft, this.preview - have);
          v.text = (v.text ?? '') + latin1(b, i, i + k);
        }
        this.bulkLeft -= n;
        i += n;
        if (this.bulkLeft === 0) this.complete(v, out, at + i);
        continue;
      }
      const nl = b.indexOf(10, i);
      if (this.lineLen === 0 && this.stack.length === 0) this.msgStart = at + i;
      if (nl >= 0 && this.lineLen === 0) {
        // a whole line in view: read it in place
        this.onLine(b, i, nl + 1, out, at + nl + 1);
        i = nl + 1;
        continue;
      }
      const take = nl < 0 ? b.length - i : nl + 1 - i;
      this.gather(b, i, take);
      i += take;
      if (nl < 0) {
        if (this.lineLen > MAX_LINE) this.junk(this.lineLen);
        continue;
      }
      const len = this.lineLen;
      this.lineLen = 0;
      this.onLine(this.line, 0, len, out, at + i);
    }
    return out;
  }

  private gather(b: Uint8Array, i: number, n: number): void {
    this.line = appendBytes(this.line, this.lineLen, b, i, n);
    this.lineLen += n;
  }

  /** One line, `buf[s, e)` with its LF (and CR) at the end; the message would end at `end`. */
  private onLine(buf: Uint8Array, s: number, e: number, out: ProtocolMessage[], end: number): void {
    const len = e - s;
    let x = e - 1; // the LF
    if (x > s && buf[x - 1] === 13) x--;
    const t = x > s ? buf[s] : -1;
    const top = this.stack.length === 0;
    const kind = t >= 0 ? KIND[t] : 0;
    if (this.resync && kind === 0) return this.junk(len);
    if (kind === AGG) {
      const n = integer(buf, s + 1, x);
      if (n === null) return this.junk(len);
      const type = String.fromCharCode(t);
      const v: RespValue = n < 0 ? { type, items: [], length: -1 } : { type, items: [] };
      const count = t === 37 || t === 124 ? 2 * n : n; // % and | hold pairs
      if (count <= 0) this.complete(v, out, end);
      else if (this.stack.length >= RESP_MAX_DEPTH) {
        this.stopped = `RESP aggregates nested deeper than ${RESP_MAX_DEPTH} levels`;
        this.stack = [];
        return;
      } else this.stack.push({ value: v, left: count, kept: this.keep() });
    } else if (kind === SCALAR) this.complete({ type: String.fromCharCode(t), text: latin1(buf, s + 1, x) }, out, end);
    else if (kind === BLOB) {
      const n = integer(buf, s + 1, x);
      if (n === null || n < -1) return this.junk(len);
      const v: RespValue = { type: String.fromCharCode(t), length: n };
      if (n < 0) this.complete(v, out, end);
      else {
        this.bulk = v;
        this.bulkLeft = n + 2;
      }
    } else {
      const text = latin1(buf, s, x).trim();
      if (text.length === 0) return; // a stray CRLF
      if (!(top && this.dir === 0)) return this.junk(len);
      // an inline command: words separated by spaces
      this.complete({ type: 'inline', items: text.split(/\s+/).map((w) => ({ type: '+', text: w })) }, out, end);
    }
    this.garbage = 0;
    this.resync = false;
  }

  /** Whether an aggregate starting now fits in the message's budget (the top-level one always does; past the budget the count only grows). */
  private keep(): boolean {
    return this.stack.length === 0 || this.kept++ < RESP_KEPT_VALUES;
  }

  /** A value finished: add it to its parent (or count it there, past the budget), or emit it as a message at top level. */
  private complete(v: RespValue, out: ProtocolMessage[], end: number): void {
    this.bulk = null;
    if (this.stack.length === 0) {
      out.push(this.message(v, end));
      return;
    }
    let value = v;
    let keptValue = this.keep();
    while (this.stack.length > 0) {
      const f = this.stack[this.stack.length - 1];
      if (keptValue) f.value.items!.push(value);
      else f.value.omitted = (f.value.omitted ?? 0) + 1;
      if (--f.left > 0) return;
      this.stack.pop();
      value = f.value;
      keptValue = f.kept;
    }
    this.kept = 0;
    out.push(this.message(value, end));
  }

  private message(v: RespValue, end: number): ProtocolMessage {
    const start = this.msgStart;
    if (this.dir === 0) {
      const words = (v.items ?? []).map((x) => x.text ?? (x.length !== undefined ? `(${x.length} bytes)` : ''));
      const name = (words[0] ?? '').toUpperCase();
      this.pairing.commands.push({ name, args: words.length - 1 + (v.omitted ?? 0) });
      const args = words.slice(1);
      const more = v.omitted ? ` … (${v.omitted} more arguments)` : '';
      return { kind: 'command', dir: 0, start, end, summary: [name, ...args.map((a) => (a.length > 40 ? a.slice(0, 40) + '…' : a))].join(' ') + more, fields: { command: name, args, inline: v.type === 'inline', ...(v.omitted ? { omitted: v.omitted } : {}) } };
    }
    const kind = pubsubKind(v);
    const push = v.type === '>' || (kind !== null && DELIVERY.has(kind) && this.pairing.subscribed);
    const command = kind !== null && CONFIRM.has(kind) ? this.confirm(kind, v) : push ? null : (this.pairing.commands.shift()?.name ?? null);
    return { kind: push ? 'push' : 'reply', dir: 1, start, end, summary: `${describe(v)}${command ? ` (${command})` : ''}`, fields: { command, value: v } };
  }

  /**
   * One confirmation per channel: SUBSCRIBE a b gets two, so the command is paired with the
   * last; UNSUBSCRIBE without channels is done when the remaining count reaches 0.
   */
  private confirm(kind: string, v: RespValue): string | null {
    const p = this.pairing;
    const count = Number(v.items?.[2]?.text ?? 0);
    p.subscribed = count > 0;
    const head = p.commands.peek();
    if (!head || head.name !== kind.toUpperCase()) return null;
    p.confirmed++;
    if (p.confirmed >= head.args && (head.args > 0 || count === 0)) {
      p.commands.shift();
      p.confirmed = 0;
    }
    return head.name;
  }

  private junk(n: number): void {
    this.garbage += n;
    this.stack = [];
    this.kept = 0;
    this.bulkLeft = 0;
    this.bulk = null;
    this.resync = true;
    if (this.garbage > MAX_GARBAGE) this.stopped = 'no RESP found in 64 KiB of data';
  }

  gap(length: number): void {
    if (this.stopped) return;
    if (this.bulkLeft > 2 && length <= this.bulkLeft - 2) {
      this.bulkLeft -= length; // inside a bulk payload: keep the framing
      return;
    }
    this.lineLen = 0;
    this.junk(0);
  }

  end(): ProtocolMessage[] {
    return [];
  }
}

/** `message`, `subscribe`, … when `v` is an array that starts with one of the pub/sub words. */
function pubsubKind(v: RespValue): string | null {
  if ((v.type !== '*' && v.type !== '>') || !v.items || v.items.length < 3) return null;
  const w = v.items[0].text?.toLowerCase();
  return w !== undefined && (DELIVERY.has(w) || CONFIRM.has(w)) ? w : null;
}

function describe(v: RespValue): string {
  switch (v.type) {
    case '+':
      return v.text ?? '';
    case '-':
    case '!':
      return `error ${v.text ?? ''}`;
    case ':':
    case ',':
    case '(':
      return v.text ?? '';
    case '#':
      return v.text === 't' ? 'true' : 'false';
    case '_':
      return 'null';
    case '$':
    case '=':
      return v.length! < 0 ? 'null' : `"${(v.text ?? '').slice(0, 40)}${(v.length ?? 0) > 40 ? '…' : ''}" (${v.length} bytes)`;
    default:
      if (v.length === -1) return 'null';
      // maps and attributes count their pairs
      return `${v.type === '*' ? 'array' : v.type === '%' ? 'map' : v.type === '~' ? 'set' : v.type === '>' ? 'push' : 'attribute'} of ${v.type === '%' || v.type === '|' ? elements(v) / 2 : elements(v)}`;
  }
}

export const redisPlugin: ProtocolPlugin = {
  name: 'redis',
  version: '1.0',
  bpf: 'tcp port 6379',
  ports: [6379],
  detect(first, dir) {
    const s = dec.decode(first.subarray(0, 24));
    if (dir === 0)
      return /^\*[1-9]\d*\r\n\$\d+\r\n/.test(s) || (/^(PING|INFO|AUTH|HELLO|SELECT|GET|SET|KEYS|QUIT)(\s|\r?\n)/i.test(s) && !/^\S+ \S+ HTTP\//.test(s));
    return /^(\+OK|\+PONG|-ERR|\$-?\d+\r\n|\*-?\d+\r\n|:\d+\r\n)/.test(s);
  },
  options: [{ name: 'preview', description: 'bytes of each bulk string kept (the rest is counted)', default: 64, min: 0, max: 1 << 20 }],
  parsers(_host, options) {
    const pairing: Pairing = { commands: new Queue(), confirmed: 0, subscribed: false };
    const preview = option(redisPlugin, options, 'preview');
    return [new RespParser(0, pairing, preview), new RespParser(1, pairing, preview)];
  },
};
