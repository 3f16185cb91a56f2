/**
 * The flows filter language — one parser for the app's table, `weft flows --filter` and
 * `weft export --filter` — and what the table sorts by.
 *
 *   expr    := or
 *   or      := and { ("or" | "||") and }
 *   and     := not { ["and" | "&&"] not }          terms side by side must all hold
 *   not     := ("not" | "!") not | "(" expr ")" | term
 *   term    := KEY ":" VALUE                        has:gap  state:rst  port:80  ip:10.0.0.0/8  proto:http
 *            | FIELD OP VALUE                       bytes > 1M  duration >= 2s  packets < 10  port == 443
 *            | WORD                                 part of the client or server text
 *   OP      := "==" | "=" | "!=" | ">" | ">=" | "<" | "<="
 *
 * Fields: bytes (both directions), c2s, s2c (bytes each way), packets, duration, gaps (bytes),
 * conflicts, port (either endpoint's), id, start (the first packet's time, seconds since 1970: the
 * capture timeline's brush writes it), rate (bits per second over the flow's duration); Wireshark's
 * tcp.port and ip.addr are understood as port and ip. Sizes take k / M / G (1024-based, as the
 * table shows them: 1M = 1 MiB), rates k / M / G (1000-based, as networks count: 10M = 10 Mbit/s)
 * and durations us / ms / s / m / h (plain numbers are seconds). `ip:` takes an address or a network (CIDR,
 * IPv4 or IPv6). Anything not understood is an Error whose message says what and where — never
 * a filter that silently matches nothing.
 */
import { endpointHost, endpointPort } from '../../engine/decode/addr';
import type { Flow, FlowAccumulator, UdpFlow } from '../../engine/flows';
import { STREAM_ANOMALY_NAMES } from '../../engine/reassembly';
import type { FlowQuery, FlowState } from '../../ipc/contract';

/**
 * What a filter reads of a flow: the app's flow table answers it from its columns through one
 * reused cursor (no object per row), the export and `weft flows` from a Flow.
 */
export interface FlowFacts {
  readonly id: number;
  readonly client: string;
  readonly server: string;
  readonly protocol: string | null;
  /** The transport: a TCP connection or a UDP conversation (`proto:tcp`, `proto:udp`). */
  readonly transport: 'tcp' | 'udp';
  readonly state: FlowState;
  readonly directionInferred: boolean;
  readonly packets: number;
  readonly bytesC2s: number;
  readonly bytesS2c: number;
  /** Seconds from the first packet to the last. */
  readonly duration: number;
  /** The first packet's time (seconds since 1970). */
  readonly start: number;
  /** Gap bytes, both directions. */
  readonly gapBytes: number;
  readonly conflicts: number;
  /** Count of anomaly `name`, both directions. */
  anomaly(name: string): number;
}

/** A Flow (weft flows, export) read as FlowFacts. */
export function flowFacts(f: Flow): FlowFacts {
  return {
    id: f.id,
    client: f.client,
    server: f.server,
    protocol: f.protocol,
    transport: 'tcp',
    state: f.close,
    directionInferred: f.directionInferred,
    packets: f.packets.c2s + f.packets.s2c,
    bytesC2s: f.bytes.c2s,
    bytesS2c: f.bytes.s2c,
    duration: f.lastSeen - f.firstSeen,
    start: f.firstSeen,
    gapBytes: f.gaps.c2s + f.gaps.s2c,
    conflicts: f.conflicts,
    anomaly: (n) => f.anomalies[n] ?? 0,
  };
}

/** A completed accumulator read as FlowFacts (for filtering before the Flow is made). */
export function accumulatorFacts(a: FlowAccumulator): FlowFacts {
  const c = a.conn;
  const [h0, h1] = c.halves;
  return {
    id: c.id,
    get client() {
      return c.client;
    },
    get server() {
      return c.server;
    },
    protocol: a.protocol,
    transport: 'tcp',
    state: a.close ?? 'open',
    directionInferred: c.directionInferred,
    packets: h0.packets + h1.packets,
    bytesC2s: h0.delivered,
    bytesS2c: h1.delivered,
    duration: c.lastSec - c.firstSec + (c.lastNsec - c.firstNsec) / 1e9,
    start: c.firstSec + c.firstNsec / 1e9,
    gapBytes: h0.gapBytes + h1.gapBytes,
    conflicts: h0.conflicts.length + h1.conflicts.length,
    anomaly: (n) => {
      const i = (STREAM_ANOMALY_NAMES as readonly string[]).indexOf(n);
      return i < 0 ? 0 : (h0.counts?.[i] ?? 0) + (h1.counts?.[i] ?? 0);
    },
  };
}

/** A UDP conversation read as FlowFacts (no gaps, conflicts or anomalies; never inferred). */
export function udpFacts(u: UdpFlow): FlowFacts {
  return {
    id: u.id,
    client: u.client,
    server: u.server,
    protocol: u.protocol,
    transport: 'udp',
    state: u.close,
    directionInferred: false,
    packets: u.packets.c2s + u.packets.s2c,
    bytesC2s: u.bytes.c2s,
    bytesS2c: u.bytes.s2c,
    duration: u.lastSeen - u.firstSeen,
    start: u.firstSeen,
    gapBytes: 0,
    conflicts: 0,
    anomaly: () => 0,
  };
}

export type FlowPredicate = (f: FlowFacts) => boolean;

/** Bits per second of `bytes` over `duration` seconds (0 for a flow of one instant: no rate to speak of). */
export function flowRate(bytes: number, duration: number): number {
  return duration > 0 ? (bytes * 8) / duration : 0;
}

/** Close states in the order the state column sorts them. */
export const STATE_ORDER: readonly FlowState[] = ['open', 'fin', 'rst', 'idle', 'end-of-input', 'limit'];

export type SortKey = NonNullable<FlowQuery['sort']>['key'];

/** A filter that cannot be understood: the message says what, and `at` where (0-based character). */
export class FilterError extends Error {
  override readonly name = 'FilterError';
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(message);
  }
}

interface Token {
  t: 'word' | 'op' | '(' | ')';
  v: string;
  at: number;
}

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '(' || c === ')') {
      out.push({ t: c, v: c, at: i++ });
      continue;
    }
    const two = s.slice(i, i + 2);
    if (two === '==' || two === '!=' || two === '>=' || two === '<=' || two === '&&' || two === '||') {
      out.push({ t: 'op', v: two, at: i });
      i += 2;
      continue;
    }
    if (c === '>' || c === '<' || c === '=') {
      out.push({ t: 'op', v: c, at: i++ });
      continue;
    }
    if (c === '!') {
      out.push({ t: 'op', v: '!', at: i++ }); // '!=' was taken above
      continue;
    }
    const start = i;
    while (i < s.length && !/[\s()<>=]/.test(s[i]) && !(s[i] === '!' && s[i + 1] === '=')) i++;
    out.push({ t: 'word', v: s.slice(start, i), at: start });
  }
  return out;
}

const UNITS_SIZE: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1 << 20, mb: 1 << 20, mib: 1 << 20, g: 1 << 30, gb: 1 << 30, gib: 1 << 30 };
const UNITS_TIME: Record<string, number> = { '': 1, us: 1e-6, ms: 1e-3, s: 1, m: 60, min: 60, h: 3600 };
const UNITS_RATE: Record<string, number> = { '': 1, bps: 1, k: 1e3, kbps: 1e3, m: 1e6, mbps: 1e6, g: 1e9, gbps: 1e9 };
const NUMERIC = ['bytes', 'c2s', 's2c', 'packets', 'duration', 'rate', 'start', 'gaps', 'conflicts', 'port', 'id'] as const;
type Numeric = (typeof NUMERIC)[number];
const ALIASES: Record<string, string> = { 'tcp.port': 'port', 'ip.addr': 'ip', 'tcp.len': 'bytes', frame: 'packets' };
const KEYS = ['has', 'state', 'port', 'ip', 'proto'];

function number(field: Numeric, raw: string, at: number): number {
  const m = /^(\d+(?:\.\d+)?)([a-z]*)$/i.exec(raw);
  const units = field === 'duration' ? UNITS_TIME : field === 'rate' ? UNITS_RATE : field === 'bytes' || field === 'c2s' || field === 's2c' || field === 'gaps' ? UNITS_SIZE : { '': 1 };
  const unit = m?.[2].toLowerCase() ?? '';
  if (!m || !(unit in units)) {
    const like =
      field === 'duration' ? 'like 2s, 500ms' : field === 'rate' ? 'bits per second, like 64k, 10M' : field === 'start' ? 'seconds since 1970, like 1700000000.5' : units === UNITS_SIZE ? 'like 1500, 64k, 1M' : 'a whole number';
    throw new FilterError(`${field} compares with a number (${like}), not '${raw}'`, at);
  }
  return Number(m[1]) * units[unit];
}

function compare(op: string, a: number, b: number): boolean {
  switch (op) {
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '!=':
      return a !== b;
    default:
      return a === b;
  }
}

/** Address bytes of an IPv4 or IPv6 text address, or null. */
function addressBytes(s: string): number[] | null {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(s)) {
    const b = s.split('.').map(Number);
    return b.every((x) => x <= 255) ? b : null;
  }
  if (!s.includes(':') || !/^[0-9a-f:.]+$/i.test(s)) return null;
  const [head, tail, extra] = s.split('::');
  if (extra !== undefined) return null;
  const groups = (x: string) => (x === '' ? [] : x.split(':'));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  if (fill < 0 || (tail === undefined && h.length !== 8)) return null;
  const all = [...h, ...Array(fill).fill('0'), ...t];
  if (all.length !== 8 || all.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) return null;
  return all.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 255]);
}

/** A predicate for one endpoint address: equal to an address, or inside a network. */
/** A test of a host address against an address or a network ("10.0.0.0/8"); a FilterError (at `at`) when `value` is neither. */
export function ipTest(value: string, at: number): (host: string) => boolean {
  const [addr, bitsText] = value.split('/');
  const net = addressBytes(addr);
  const bits = bitsText === undefined ? (net ? net.length * 8 : 0) : Number(bitsText);
  if (!net || !Number.isInteger(bits) || bits < 0 || bits > net.length * 8) throw new FilterError(`ip: takes an address or a network (10.0.0.1, 10.0.0.0/8, 2001:db8::/32), not '${value}'`, at);
  return (host) => {
    const b = addressBytes(host);
    if (!b || b.length !== net.length) return false;
    for (let i = 0; i < bits; i++) if (((b[i >> 3] >> (7 - (i & 7))) & 1) !== ((net[i >> 3] >> (7 - (i & 7))) & 1)) return false;
    return true;
  };
}

function keyTerm(key: string, val: string, at: number): FlowPredicate {
  switch (key) {
    case 'has':
      if (val === 'gap') return (r) => r.gapBytes > 0;
      if (val === 'conflict') return (r) => r.conflicts > 0 || r.anomaly('conflicting-overlap') > 0;
      if (val === 'inferred') return (r) => r.directionInferred;
      if (!(STREAM_ANOMALY_NAMES as readonly string[]).includes(val)) throw new FilterError(`has: takes gap, conflict, inferred or an anomaly (${STREAM_ANOMALY_NAMES.join(', ')}), not '${val}'`, at);
      return (r) => r.anomaly(val) > 0;
    case 'state':
      if (val === 'closed') return (r) => r.state !== 'open';
      if (!(STATE_ORDER as readonly string[]).includes(val)) throw new FilterError(`state: takes ${STATE_ORDER.join(', ')} or closed, not '${val}'`, at);
      return (r) => r.state === val;
    case 'port': {
      const p = Number(val);
      if (!Number.isInteger(p) || p < 0 || p > 65535) throw new FilterError(`port: takes a port number, not '${val}'`, at);
      return (r) => endpointPort(r.client) === p || endpointPort(r.server) === p;
    }
    case 'ip': {
      const test = ipTest(val, at);
      return (r) => test(endpointHost(r.client)) || test(endpointHost(r.server));
    }
    default:
      if (val === 'tcp' || val === 'udp') return (r) => r.transport === val;
      return (r) => (val === 'none' ? r.protocol === null : r.protocol === val);
  }
}

function fieldOf(r: FlowFacts, f: Numeric): number {
  switch (f) {
    case 'bytes':
      return r.bytesC2s + r.bytesS2c;
    case 'c2s':
      return r.bytesC2s;
    case 's2c':
      return r.bytesS2c;
    case 'packets':
      return r.packets;
    case 'duration':
      return r.duration;
    case 'rate':
      return flowRate(r.bytesC2s + r.bytesS2c, r.duration);
    case 'start':
      return r.start;
    case 'gaps':
      return r.gapBytes;
    case 'conflicts':
      return r.conflicts;
    case 'id':
      return r.id;
    default:
      return NaN; // port: compared per endpoint
  }
}

class Parser {
  private i = 0;
  constructor(
    private readonly toks: Token[],
    private readonly src: string,
  ) {}

  parse(): FlowPredicate {
    if (this.toks.length === 0) return () => true;
    const e = this.or();
    const t = this.toks[this.i];
    if (t) throw new FilterError(t.t === ')' ? `')' at character ${t.at + 1} closes nothing` : `unexpected '${t.v}' at character ${t.at + 1}`, t.at);
    return e;
  }

  private peek(): Token | undefined {
    return this.toks[this.i];
  }

  private isWord(t: Token | undefined, ...words: string[]): boolean {
    return !!t && ((t.t === 'word' && words.includes(t.v.toLowerCase())) || (t.t === 'op' && words.includes(t.v)));
  }

  private or(): FlowPredicate {
    const parts = [this.and()];
    while (this.isWord(this.peek(), 'or', '||')) {
      this.i++;
      parts.push(this.and());
    }
    return parts.length === 1 ? parts[0] : (r) => parts.some((p) => p(r));
  }

  private and(): FlowPredicate {
    const parts = [this.not()];
    for (;;) {
      const t = this.peek();
      if (!t || t.t === ')' || this.isWord(t, 'or', '||')) break;
      if (this.isWord(t, 'and', '&&')) this.i++;
      parts.push(this.not());
    }
    return parts.length === 1 ? parts[0] : (r) => parts.every((p) => p(r));
  }

  private not(): FlowPredicate {
    const t = this.peek();
    if (!t) throw new FilterError(`the filter ends where a term was expected (after '${this.src.trim()}')`, this.src.length);
    if (this.isWord(t, 'not', '!')) {
      this.i++;
      const p = this.not();
      return (r) => !p(r);
    }
    if (t.t === '(') {
      this.i++;
      const e = this.or();
      const close = this.peek();
      if (!close || close.t !== ')') throw new FilterError(`'(' at character ${t.at + 1} is not closed`, t.at);
      this.i++;
      return e;
    }
    if (t.t !== 'word') throw new FilterError(`unexpected '${t.v}' at character ${t.at + 1}`, t.at);
    return this.term();
  }

  private term(): FlowPredicate {
    const t = this.toks[this.i++];
    const op = this.peek();
    const word = ALIASES[t.v.toLowerCase()] ?? t.v;
    if (op?.t === 'op' && ['==', '=', '!=', '>', '>=', '<', '<='].includes(op.v)) {
      this.i++;
      const v = this.toks[this.i++];
      if (!v || v.t !== 'word') throw new FilterError(`'${op.v}' at character ${op.at + 1} needs a value after it`, op.at);
      const field = word.toLowerCase();
      if (field === 'ip') {
        if (op.v !== '=' && op.v !== '==' && op.v !== '!=') throw new FilterError(`ip compares with == or != (or use ip:NETWORK), not '${op.v}'`, op.at);
        const p = keyTerm('ip', v.v, v.at);
        return op.v === '!=' ? (r) => !p(r) : p;
      }
      if (field === 'proto' || field === 'state') {
        if (op.v !== '=' && op.v !== '==' && op.v !== '!=') throw new FilterError(`${field} compares with == or !=, not '${op.v}'`, op.at);
        const p = keyTerm(field, v.v, v.at);
        return op.v === '!=' ? (r) => !p(r) : p;
      }
      if (!(NUMERIC as readonly string[]).includes(field)) throw new FilterError(`unknown field '${t.v}' at character ${t.at + 1} (fields: ${NUMERIC.join(', ')}, ip, proto, state)`, t.at);
      const n = number(field as Numeric, v.v, v.at);
      const o = op.v;
      if (field === 'port') return (r) => compare(o, endpointPort(r.client), n) || compare(o, endpointPort(r.server), n);
      return (r) => compare(o, fieldOf(r, field as Numeric), n);
    }
    const colon = word.indexOf(':');
    if (colon > 0) {
      const key = word.slice(0, colon).toLowerCase();
      const val = word.slice(colon + 1);
      if (KEYS.includes(key)) {
        if (val === '') throw new FilterError(`${key}: needs a value (${key === 'has' ? 'has:gap' : key === 'state' ? 'state:rst' : key === 'port' ? 'port:80' : key === 'ip' ? 'ip:10.0.0.0/8' : 'proto:http'})`, t.at + colon);
        return keyTerm(key, val, t.at + colon + 1);
      }
      // an IPv6 address, or an endpoint (10.0.0.1:80, [2001:db8::1]:443), is text, not a key
      if (!/^[0-9a-f]*$/i.test(key) && !/^[\d.]+$/.test(key) && !/^\[/.test(word)) throw new FilterError(`unknown filter '${key}:' at character ${t.at + 1} (use has:, state:, port:, ip:, proto:, a comparison such as bytes > 1M, or plain text)`, t.at);
    }
    if (/^[a-z_][a-z0-9_.]*$/i.test(word) && (NUMERIC as readonly string[]).includes(word.toLowerCase()))
      throw new FilterError(`'${t.v}' at character ${t.at + 1} needs a comparison (${t.v} > 1000)`, t.at);
    const s = word.toLowerCase();
    return (r) => r.client.toLowerCase().includes(s) || r.server.toLowerCase().includes(s);
  }
}

/** Compiles a filter expression; throws a FilterError with a message for people on bad input. */
export function compileFilter(expr: string): FlowPredicate {
  return new Parser(tokenize(expr), expr).parse();
}
