/**
 * HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/) from HTTP messages, streamed: each
 * entry is written when its response has been parsed (requests wait, per connection, keyed by
 * their stream offset, which the response names), so memory holds only unanswered requests.
 * Entries come in the order responses complete — HAR prefers, but does not require, start order.
 *
 * What a capture can and cannot say, and how it is written:
 *   - times: startedDateTime is the capture time of the request's first byte; `wait` is until the
 *     response's first byte; send and receive are 0 (the capture does not separate them).
 *   - bodies: Weft keeps the first 4 KiB of each body (decoded from gzip / deflate / br up to
 *     256 KiB); content.text holds that, and a comment says when it is only the start.
 *   - a request never answered gets status 0 (as browsers write aborted requests); a message with
 *     a gap in it says so in its comment.
 */
import { endpointHost, endpointPort } from '../../engine/decode/addr';
import type { MessageRecord } from '../pipeline/messages';
import { utf8Text, type DecodedBody } from '../pipeline/message-content';

export interface HarSink {
  write(s: string): void;
}

type Headers = [string, string][];
interface HttpFields {
  method?: string;
  target?: string;
  version: string;
  status?: number;
  reason?: string;
  headers: Headers;
  request?: { method: string; target: string; start: number } | null;
  bodyLength?: number;
  bodyPreview?: Uint8Array;
  decodedBody?: DecodedBody;
  incomplete?: boolean;
}

const header = (h: Headers, name: string) => h.find(([k]) => k.toLowerCase() === name)?.[1];

export class HarWriter {
  /** Requests waiting for their response: connection → request stream offset → message. */
  private readonly waiting = new Map<string, Map<number, MessageRecord>>();
  private first = true;
  entries = 0;

  constructor(
    private readonly out: HarSink,
    creator: { name: string; version: string },
    comment?: string,
  ) {
    out.write(`{"log":{"version":"1.2","creator":${JSON.stringify(creator)},${comment ? `"comment":${JSON.stringify(comment)},` : ''}"pages":[],"entries":[`);
  }

  message(m: MessageRecord): void {
    if (m.protocol !== 'http') return;
    const key = `${m.client} ${m.server}`;
    const f = m.fields as unknown as HttpFields;
    if (m.kind === 'request') {
      let w = this.waiting.get(key);
      if (!w) this.waiting.set(key, (w = new Map()));
      w.set(m.start, m);
      return;
    }
    if (m.kind !== 'response' || !f.request) return;
    if (f.status !== undefined && f.status >= 100 && f.status < 200 && f.status !== 101) return; // interim: the final one follows
    const w = this.waiting.get(key);
    const req = w?.get(f.request.start);
    if (!req) return;
    w!.delete(f.request.start);
    this.entry(req, m);
  }

  /** Writes the requests never answered, and closes the document. */
  end(): void {
    for (const w of this.waiting.values()) for (const req of w.values()) this.entry(req, null);
    this.waiting.clear();
    this.out.write(']}}\n');
  }

  private entry(req: MessageRecord, res: MessageRecord | null): void {
    const q = req.fields as unknown as HttpFields;
    const ms = (m: MessageRecord) => m.tsSec * 1000 + m.tsNsec / 1e6;
    const wait = res ? Math.max(0, ms(res) - ms(req)) : 0;
    const host = header(q.headers, 'host') ?? req.server;
    const target = q.target ?? '/';
    const url = /^[a-z][a-z0-9+.-]*:\/\//i.test(target) ? target : q.method === 'CONNECT' ? `https://${target}` : `http://${host}${target.startsWith('/') ? '' : '/'}${target}`;
    const comments = [req.fields.incomplete ? 'the request has a gap (bytes not captured)' : '', res?.fields.incomplete ? 'the response has a gap (bytes not captured)' : ''].filter(Boolean);
    const e = {
      startedDateTime: new Date(ms(req)).toISOString(),
      time: wait,
      request: {
        method: q.method ?? 'GET',
        url,
        httpVersion: `HTTP/${q.version}`,
        cookies: cookies(header(q.headers, 'cookie')),
        headers: q.headers.map(([name, value]) => ({ name, value })),
        queryString: query(url),
        ...(q.bodyLength ? { postData: { mimeType: header(q.headers, 'content-type') ?? '', text: body(q).text ?? '', ...(body(q).comment ? { comment: body(q).comment } : {}) } } : {}),
        headersSize: headSize(req, q),
        bodySize: q.bodyLength ?? 0,
      },
      response: res ? response(res) : { status: 0, statusText: '', httpVersion: '', cookies: [], headers: [], content: { size: 0, mimeType: '' }, redirectURL: '', headersSize: -1, bodySize: -1, comment: 'no response in the capture' },
      cache: {},
      timings: { send: 0, wait, receive: 0 },
      serverIPAddress: endpointHost(req.server),
      connection: String(endpointPort(req.client)),
      ...(comments.length ? { comment: comments.join('; ') } : {}),
    };
    this.out.write((this.first ? '' : ',') + JSON.stringify(e));
    this.first = false;
    this.entries++;
  }
}

function response(res: MessageRecord) {
  const r = res.fields as unknown as HttpFields;
  const b = body(r);
  return {
    status: r.status ?? 0,
    statusText: r.reason ?? '',
    httpVersion: `HTTP/${r.version}`,
    cookies: (r.headers.filter(([k]) => k.toLowerCase() === 'set-cookie').map(([, v]) => v) ?? []).flatMap((v) => cookies(v.split(';')[0])),
    headers: r.headers.map(([name, value]) => ({ name, value })),
    content: {
      size: b.size,
      ...(r.decodedBody && r.decodedBody.complete && r.bodyLength !== undefined ? { compression: b.size - r.bodyLength } : {}),
      mimeType: header(r.headers, 'content-type') ?? '',
      ...(b.text !== undefined ? { text: b.text } : {}),
      ...(b.encoding ? { encoding: b.encoding } : {}),
      ...(b.comment ? { comment: b.comment } : {}),
    },
    redirectURL: header(r.headers, 'location') ?? '',
    headersSize: headSize(res, r),
    bodySize: r.bodyLength ?? 0,
  };
}

/** The body as HAR text: decoded when it was encoded, base64 when it is not UTF-8; what is missing said. */
function body(f: HttpFields): { size: number; text?: string; encoding?: string; comment?: string } {
  const total = f.bodyLength ?? 0;
  const d = f.decodedBody;
  if (d && !d.error) {
    return { size: d.length, text: d.text ?? d.base64, ...(d.text === undefined ? { encoding: 'base64' } : {}), ...(d.complete ? {} : { comment: `the start of the body: ${d.length} bytes decoded from the first bytes captured` }) };
  }
  const p = f.bodyPreview;
  if (!p || p.length === 0) return { size: total };
  const cut = p.length < total ? { comment: `the first ${p.length} of ${total} bytes` } : {};
  const text = utf8Text(p);
  return text !== null ? { size: total, text, ...cut } : { size: total, text: Buffer.from(p).toString('base64'), encoding: 'base64', ...cut };
}

/** Bytes of the head: the message's range minus its body, when the body was sent as is. */
function headSize(m: MessageRecord, f: HttpFields): number {
  if (/chunked/i.test(header(f.headers, 'transfer-encoding') ?? '')) return -1;
  return m.end - m.start - (f.bodyLength ?? 0);
}

function cookies(h: string | undefined): { name: string; value: string }[] {
  if (!h) return [];
  return h
    .split(';')
    .map((c) => c.trim())
    .filter(Boolean)
    .map((c) => {
      const i = c.indexOf('=');
      return i < 0 ? { name: c, value: '' } : { name: c.slice(0, i), value: c.slice(i + 1) };
    });
}

function query(url: string): { name: string; value: string }[] {
  const i = url.indexOf('?');
  if (i < 0) return [];
  return url
    .slice(i + 1)
    .split('#')[0]
    .split('&')
    .filter(Boolean)
    .map((kv) => {
      const j = kv.indexOf('=');
      const dec = (s: string) => {
        try {
          return decodeURIComponent(s.replace(/\+/g, ' '));
        } catch {
          return s;
        }
      };
      return j < 0 ? { name: dec(kv), value: '' } : { name: dec(kv.slice(0, j)), value: dec(kv.slice(j + 1)) };
    });
}
