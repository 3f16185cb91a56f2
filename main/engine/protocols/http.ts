/**
 * HTTP/1.x over reassembled streams (RFC 9112): requests and responses, paired in order
 * (pipelining too); bodies framed by Content-Length, chunked encoding, or the end of the stream;
 * no body for HEAD, 1xx, 204 and 304; CONNECT and Upgrade (101) hand the rest of the connection
 * over (the parser stops, saying why). Headers are kept in order, as sent.
 *
 * Resumable at any byte: header bytes are gathered in a small buffer (the only copy); bodies are
 * counted, not copied, except a preview of the first `bodyPreview` bytes (an option). A gap inside a body
 * shortens it (the message is marked incomplete); a gap elsewhere, or bytes that are not HTTP,
 * make the parser look for the next request/status line (resync); after MAX_GARBAGE bytes without
 * one it stops.
 */
import { copyBytes } from '../util/bytes';
import { appendBytes } from './bytes';
import { Queue, textCost } from './queue';
import { option, type Direction, type DirectionParser, type ProtocolMessage, type ProtocolPlugin } from './types';

const MAX_HEADER = 64 * 1024;
const MAX_GARBAGE = 64 * 1024;
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', 'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'SEARCH', 'REPORT'];
const dec = new TextDecoder('latin1');

/** Requests waiting for their responses, shared by the two directions of a connection. */
interface Pairing {
  pending: Queue<{ method: string; target: string; start: number }>;
}

type State = 'head' | 'body' | 'chunk-size' | 'chunk-data' | 'chunk-crlf' | 'trailers' | 'to-end' | 'stopped';

class HttpParser implements DirectionParser {
  private state: State = 'head';
  private head = new Uint8Array(1024);
  private headLen = 0;
  /** Stream offset of head[0] (or of the message being parsed). */
  private msgStart = 0;
  private remaining = 0;
  private msg: ProtocolMessage | null = null;
  private preview: Uint8Array[] = [];
  private previewLen = 0;
  private bodyLen = 0;
  private garbage = 0;
  /** The next line gathered in 'head' state is a message's first line. */
  private firstLine = true;
  private pos = 0; // stream offset of the chunk being pushed
  /** Stream offset just after the last complete line gathered. */
  private lineEnd = 0;
  stopped: string | null = null;

  constructor(
    private readonly dir: Direction,
    private readonly pairing: Pairing,
    private readonly bodyPreview: number,
  ) {}

  push(b: Uint8Array, streamOffset: number): ProtocolMessage[] {
    const out: ProtocolMessage[] = [];
    this.pos = streamOffset;
    let i = 0;
    while (i < b.length && this.state !== 'stopped') {
      switch (this.state) {
        case 'head':
        case 'chunk-size':
        case 'chunk-crlf':
        case 'trailers': {
          // gather one line (head: up to the blank line) into the small buffer
          const nl = b.indexOf(10, i);
          const take = nl < 0 ? b.length - i : nl + 1 - i;
          if (this.headLen === 0) this.msgStart = this.state === 'head' ? this.pos + i : this.msgStart;
          this.append(b, i, take);
          i += take;
          this.lineEnd = streamOffset + i;
          if (nl < 0) {
            if (this.headLen > MAX_HEADER) this.junk(this.headLen, 'header section over 64 KiB');
            break;
          }
          this.line(out);
          break;
        }
        case 'body': {
          const n = Math.min(this.remaining, b.length - i);
          this.body(b, i, n);
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.finish(out, this.pos + i);
          break;
        }
        case 'chunk-data': {
          const n = Math.min(this.remaining, b.length - i);
          this.body(b, i, n);
          i += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = 'chunk-crlf';
          break;
        }
        case 'to-end': {
          this.body(b, i, b.length - i);
          i = b.length;
          break;
        }
      }
    }
    this.pos = streamOffset + b.length;
    return out;
  }

  private append(b: Uint8Array, i: number, n: number): void {
    this.head = appendBytes(this.head, this.headLen, b, i, n);
    this.headLen += n;
  }

  private body(b: Uint8Array, i: number, n: number): void {
    this.bodyLen += n;
    if (this.previewLen < this.bodyPreview && n > 0) {
      const k = Math.min(n, this.bodyPreview - this.previewLen);
      this.preview.push(copyBytes(b, i, i + k));
      this.previewLen += k;
    }
  }

  /** A complete line is in the buffer (for 'head': maybe the whole header section). */
  private line(out: ProtocolMessage[]): void {
    const text = dec.decode(this.head.subarray(0, this.headLen));
    if (this.state === 'chunk-size') {
      this.headLen = 0;
      const size = parseInt(text.trim().split(';')[0], 16);
      if (!Number.isFinite(size) || size < 0) return this.junk(0, `bad chunk size '${text.trim().slice(0, 20)}'`);
      if (size === 0) this.state = 'trailers';
      else {
        this.remaining = size;
        this.state = 'chunk-data';
      }
      return;
    }
    if (this.state === 'chunk-crlf') {
      this.headLen = 0;
      this.state = 'chunk-size';
      return;
    }
    if (this.state === 'trailers') {
      this.headLen = 0;
      if (text === '\r\n' || text === '\n') this.finish(out, this.lineEnd);
      return;
    }
    // head: the first line must be a start line (anything else is skipped: stray CRLFs, garbage,
    // the tail of a message whose start was lost); then wait for the blank line that ends it
    if (this.firstLine) {
      if (!this.startLine(text)) {
        this.garbage += this.headLen;
        this.headLen = 0;
        if (this.garbage > MAX_GARBAGE) this.stop('no HTTP message start found in 64 KiB of data');
        return;
      }
      this.firstLine = false;
      this.garbage = 0;
    }
    if (!/\r?\n\r?\n$/.test(text)) return; // more header lines to come
    this.headLen = 0;
    this.firstLine = true;
    this.parseHead(text, out);
  }

  private startLine(text: string): boolean {
    if (this.dir === 1) return /^HTTP\/\d\.\d \d{3}/.test(text);
    const sp = text.indexOf(' ');
    return sp > 0 && METHODS.includes(text.slice(0, sp)) && / HTTP\/\d\.\d\r?\n/.test(text.split('\n')[0] + '\n');
  }

  private parseHead(text: string, out: ProtocolMessage[]): void {
    const lines = text.split(/\r?\n/);
    while (lines.length && lines[lines.length - 1] === '') lines.pop();
    const first = lines.shift() ?? '';
    const headers: [string, string][] = [];
    for (const l of lines) {
      const c = l.indexOf(':');
      if (c > 0) headers.push([l.slice(0, c).trim(), l.slice(c + 1).trim()]);
    }
    const get = (n: string) => headers.find(([k]) => k.toLowerCase() === n)?.[1];
    const chunked = /(^|,)\s*chunked\s*$/i.test(get('transfer-encoding') ?? '');
    const length = get('content-length');
    if (this.dir === 0) {
      const m = /^([A-Z]+) (\S+) HTTP\/(\d\.\d)$/.exec(first);
      if (!m) return this.junk(0, 'not an HTTP request line');
      const [, method, target, version] = m;
      this.pairing.pending.push({ method, target, start: this.msgStart });
      this.msg = { kind: 'request', dir: 0, start: this.msgStart, end: 0, summary: `${method} ${target} HTTP/${version}`, fields: { method, target, version, headers } };
      if (method === 'CONNECT') {
        this.finishNow(out);
        return this.stop('CONNECT: the rest of the connection is a tunnel');
      }
      if (chunked) this.state = 'chunk-size';
      else if (length !== undefined && /^\d+$/.test(length) && Number(length) > 0) {
        this.remaining = Number(length);
        this.state = 'body';
      } else this.finishNow(out);
      return;
    }
    const m = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/.exec(first);
    if (!m) return this.junk(0, 'not an HTTP status line');
    const [, version, codeText, reason = ''] = m;
    const code = Number(codeText);
    const req = code >= 100 && code < 200 && code !== 101 ? this.pairing.pending.peek() : this.pairing.pending.shift();
    this.msg = {
      kind: 'response',
      dir: 1,
      start: this.msgStart,
      end: 0,
      summary: `HTTP/${version} ${code} ${reason}`.trim() + (req ? ` (${req.method} ${req.target})` : ''),
      fields: { version, status: code, reason, headers, request: req ? { method: req.method, target: req.target, start: req.start } : null },
    };
    if (code === 101) {
      this.finishNow(out);
      return this.stop(`101 Switching Protocols to ${get('upgrade') ?? 'another protocol'}: the rest is not HTTP`);
    }
    if (req?.method === 'CONNECT' && code >= 200 && code < 300) {
      this.finishNow(out);
      return this.stop('CONNECT accepted: the rest of the connection is a tunnel');
    }
    if ((code >= 100 && code < 200) || code === 204 || code === 304 || req?.method === 'HEAD') return this.finishNow(out);
    if (chunked) this.state = 'chunk-size';
    else if (length !== undefined && /^\d+$/.test(length)) {
      this.remaining = Number(length);
      if (this.remaining === 0) this.finishNow(out);
      else this.state = 'body';
    } else this.state = 'to-end';
  }

  /** A message without body ends right after its head. */
  private finishNow(out: ProtocolMessage[]): void {
    this.finish(out, this.lineEnd);
  }

  /** The message ends at stream offset `end`. */
  private finish(out: ProtocolMessage[], end: number): void {
    const m = this.msg;
    if (!m) return;
    m.end = end;
    m.fields.bodyLength = this.bodyLen;
    if (this.previewLen > 0) {
      const p = new Uint8Array(this.previewLen);
      let o = 0;
      for (const x of this.preview) {
        p.set(x, o);
        o += x.length;
      }
      m.fields.bodyPreview = p;
    }
    out.push(m);
    this.msg = null;
    this.preview = [];
    this.previewLen = 0;
    this.bodyLen = 0;
    this.state = 'head';
  }

  private junk(dropped: number, why: string): void {
    this.garbage += dropped;
    this.headLen = 0;
    this.msg = null;
    this.state = 'head';
    this.firstLine = true;
    if (this.garbage > MAX_GARBAGE) this.stop(`${why}; no HTTP found after it`);
  }

  private stop(why: string): void {
    this.state = 'stopped';
    this.stopped = why;
  }

  gap(length: number): void {
    if (this.state === 'stopped') return;
    if ((this.state === 'body' || this.state === 'chunk-data') && length <= this.remaining) {
      this.remaining -= length;
      if (this.msg) this.msg.fields.incomplete = true;
      return;
    }
    if (this.state === 'to-end') {
      if (this.msg) this.msg.fields.incomplete = true;
      return;
    }
    // lost our place: find the next start line
    this.headLen = 0;
    this.msg = null;
    this.state = 'head';
    this.firstLine = true;
  }

  end(): ProtocolMessage[] {
    const out: ProtocolMessage[] = [];
    if (this.state === 'to-end' && this.msg) this.finish(out, this.pos);
    else if (this.msg && (this.state === 'body' || this.state.startsWith('chunk'))) {
      this.msg.fields.incomplete = true;
      this.finish(out, this.pos);
    }
    return out;
  }
}

export const httpPlugin: ProtocolPlugin = {
  name: 'http',
  version: '1.0',
  bpf: 'tcp port 80 or tcp port 8080 or tcp port 8000 or tcp port 8008 or tcp port 3128',
  ports: [80, 8080, 8000, 8008, 3128],
  detect(first, dir) {
    const s = dec.decode(first.subarray(0, 64));
    if (dir === 1) return /^HTTP\/\d\.\d \d/.test(s);
    // METHOD SP target: an origin path, an absolute URL, '*', or CONNECT's host:port
    // (so Redis' inline "GET key" is not taken for HTTP)
    const m = /^([A-Z]+) (\S+)/.exec(s);
    return !!m && METHODS.includes(m[1]) && (/^(\/|https?:\/\/|\*$)/i.test(m[2]) || (m[1] === 'CONNECT' && /:\d+$/.test(m[2])));
  },
  options: [{ name: 'bodyPreview', description: 'bytes of each body kept (and decoded if gzip / deflate / br)', default: 4096, min: 0, max: 16 << 20 }],
  parsers(_host, options) {
    const pairing: Pairing = { pending: new Queue((r) => textCost(r.method, r.target)) };
    const preview = option(httpPlugin, options, 'bodyPreview');
    return [new HttpParser(0, pairing, preview), new HttpParser(1, pairing, preview)];
  },
};
