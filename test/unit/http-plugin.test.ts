/**
 * The HTTP/1.x plugin: messages against what tshark's dissector sees on the real captures, the
 * same messages however the bytes are cut (every byte boundary, two parsers interleaved), and the
 * framing rules (chunked, pipelining, HEAD, 1xx/204/304, CONNECT, Upgrade, gaps, garbage).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { httpPlugin, type ProtocolMessage } from '../../main/engine/protocols';
import { feedParser, fuzzPlugin, parsePluginCapture } from '../helpers/feed-parser';
import { REAL } from '../helpers/fixtures';

const parseCapture = (file: string) => parsePluginCapture(httpPlugin, join(REAL, file));

// tshark -r FILE -Y http.request | wc -l (and http.response), TShark 4.0.17
const TSHARK: Record<string, { requests: number; responses: number; ours?: { requests: number; responses: number }; why?: string }> = {
  'zeek-http-get.pcap': { requests: 1, responses: 1 },
  'zeek-http-vlan.pcap': { requests: 1, responses: 1 },
  'zeek-http-cooper-grill-dvwa.pcapng': { requests: 3, responses: 3 },
  'suri-pppoe-session-http.pcap': { requests: 1, responses: 1 },
  'suri-netflow-ipv6-http.pcap': { requests: 1, responses: 0 },
  'suri-decode-sll2-01.pcap': { requests: 1, responses: 0 },
  'suri-http-evader-017.pcap': { requests: 1, responses: 1 },
  'suri-start-from-response.pcap': { requests: 1, responses: 2 },
  'tcpdump-http-xml-tso.pcap': { requests: 1, responses: 0 },
  'tcpdump-http-xml-vlan-nosyn.pcap': { requests: 0, responses: 1 },
  'suri-http-onesided-nosyn.pcap': { requests: 3, responses: 0 },
  'suri-backwards.pcap': { requests: 1, responses: 1 },
  'suri-http-gap-simple-null.pcap': {
    requests: 3,
    responses: 2,
    ours: { requests: 3, responses: 3 },
    why: 'a response body has a hole: tshark cannot reassemble that response and drops it; we know the gap and keep framing by Content-Length',
  },
  'zeek-spicy-gap-recovery.pcap': {
    requests: 10,
    responses: 9,
    ours: { requests: 10, responses: 10 },
    why: 'as above: one response has lost segments inside its body',
  },
};

describe('HTTP on the real captures', () => {
  for (const [file, t] of Object.entries(TSHARK)) {
    it(`${file}: ${t.why ? 'differs from tshark, explained' : 'as tshark sees it'}`, () => {
      const { messages } = parseCapture(file);
      const want = t.ours ?? t;
      expect(messages.filter((m) => m.kind === 'request').length).toBe(want.requests);
      expect(messages.filter((m) => m.kind === 'response').length).toBe(want.responses);
    });
  }

  it('key fields: method, target, status and the pairing', () => {
    const { messages } = parseCapture('zeek-http-cooper-grill-dvwa.pcapng');
    const req = messages.filter((m) => m.kind === 'request');
    const res = messages.filter((m) => m.kind === 'response');
    expect(req.map((m) => m.fields.method)).toEqual(['GET', 'GET', 'GET']);
    expect(res.map((m) => m.fields.status)).toEqual([200, 200, 200]);
    for (const r of res) expect(req.some((q) => (r.fields.request as { target: string }).target === q.fields.target)).toBe(true);
    const get = parseCapture('zeek-http-get.pcap').messages;
    expect(get[0]).toMatchObject({ start: 0, end: 136, summary: 'GET /download/CHANGES.bro-aux.txt HTTP/1.1' });
    expect(get[1]).toMatchObject({ start: 0, end: 5007, fields: { status: 200, bodyLength: 4705 } });
    expect((get[1].fields.headers as [string, string][])[0]).toEqual(['Date', 'Thu, 07 Mar 2013 21:43:07 GMT']);
  });
});

/** Feeds `data` cut by `sizes` into direction `dir` of fresh parsers (or of `pairingFrom`). */
const feed = (data: Uint8Array, dir: 0 | 1, sizes: (k: number) => number, pairingFrom?: ReturnType<typeof httpPlugin.parsers>): ProtocolMessage[] =>
  feedParser(pairingFrom ?? httpPlugin.parsers(), dir, data, sizes);

const strip = (ms: ProtocolMessage[]) => ms.map((m) => ({ ...m, fields: { ...m.fields, bodyPreview: m.fields.bodyPreview ? Buffer.from(m.fields.bodyPreview as Uint8Array).toString('hex') : undefined } }));

describe('cut anywhere, same messages', () => {
  const { streams } = parseCapture('zeek-http-cooper-grill-dvwa.pcapng');
  const c2s = streams.map((x) => x[0]).reduce((a, b) => (b.length > a.length ? b : a));
  it('split at every byte boundary', () => {
    const whole = strip(feed(c2s, 0, () => c2s.length));
    expect(whole.length).toBeGreaterThan(0);
    for (let cut = 1; cut < c2s.length; cut++) {
      const two = strip(feed(c2s, 0, (k) => (k === 0 ? cut : c2s.length)));
      expect(two).toEqual(whole);
    }
    expect(strip(feed(c2s, 0, () => 1))).toEqual(whole);
  });

  it('two parsers fed alternately do not disturb each other', () => {
    const [a, b] = streams.map((x) => x[1]).sort((x, y) => y.length - x.length);
    const wa = strip(feed(a, 1, () => a.length, undefined));
    const wb = strip(feed(b, 1, () => b.length, undefined));
    const pa = httpPlugin.parsers();
    const pb = httpPlugin.parsers();
    const ra: ProtocolMessage[] = [];
    const rb: ProtocolMessage[] = [];
    for (let i = 0; i < Math.max(a.length, b.length); i += 7) {
      if (i < a.length) ra.push(...pa[1].push(a.subarray(i, i + 7), i));
      if (i < b.length) rb.push(...pb[1].push(b.subarray(i, i + 7), i));
    }
    ra.push(...pa[1].end());
    rb.push(...pb[1].end());
    expect(strip(ra)).toEqual(wa);
    expect(strip(rb)).toEqual(wb);
  });
});

describe('framing', () => {
  const run = (c2s: string, s2c: string) => {
    const ps = httpPlugin.parsers();
    const req = [...ps[0].push(Buffer.from(c2s), 0), ...ps[0].end()];
    const res = [...ps[1].push(Buffer.from(s2c), 0), ...ps[1].end()];
    return { req, res, stopped: [ps[0].stopped, ps[1].stopped] };
  };

  it('pipelining, chunked bodies, HEAD, 1xx, 204 and 304', () => {
    const r = run(
      'GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.1\r\n\r\nPOST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /d HTTP/1.1\r\n\r\nGET /e HTTP/1.1\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: 1\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n',
    );
    expect(r.req.map((m) => m.summary)).toEqual(['GET /a HTTP/1.1', 'HEAD /b HTTP/1.1', 'POST /c HTTP/1.1', 'GET /d HTTP/1.1', 'GET /e HTTP/1.1']);
    expect(r.req[2].fields.bodyLength).toBe(3);
    expect(r.res.map((m) => `${m.fields.status} ${(m.fields.request as { target: string } | null)?.target}`)).toEqual(['200 /a', '200 /b', '100 /c', '201 /c', '204 /d', '304 /e']);
    expect(r.res[3].fields.bodyLength).toBe(2);
    expect(r.stopped).toEqual([null, null]);
  });

  it('a response without length runs to the end of the stream', () => {
    const r = run('GET / HTTP/1.0\r\n\r\n', 'HTTP/1.0 200 OK\r\n\r\nall of this');
    expect(r.res[0].fields.bodyLength).toBe(11);
    expect(r.res[0].end).toBe(19 + 11);
  });

  it('CONNECT and Upgrade hand the rest of the connection over', () => {
    const c = run('CONNECT example.org:443 HTTP/1.1\r\n\r\n\x16\x03\x01garbage', 'HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03more');
    expect(c.req).toHaveLength(1);
    expect(c.res).toHaveLength(1);
    expect(c.stopped[0]).toMatch(/tunnel/);
    const u = run('GET /chat HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x81\x05hello', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi');
    expect(u.res[0].fields.status).toBe(101);
    expect(u.stopped[1]).toMatch(/101 Switching Protocols to websocket/);
  });

  it('a gap inside a body keeps the framing; a gap elsewhere resynchronises', () => {
    const ps = httpPlugin.parsers();
    const out: ProtocolMessage[] = [];
    out.push(...ps[1].push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'), 0));
    ps[1].gap(4);
    out.push(...ps[1].push(Buffer.from('hij' + 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'), 45));
    ps[1].gap(30); // lost the middle of the next head
    out.push(...ps[1].push(Buffer.from('ength: 0\r\n\r\nHTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n'), 200));
    expect(out.map((m) => [m.fields.status, m.fields.incomplete ?? false])).toEqual([
      [200, true],
      [404, false],
      [500, false],
    ]);
  });

  it('garbage is skipped, and after 64 KiB of it the parser stops saying why', () => {
    const r = run('\x00\x01\x02 not http\r\nGET /x HTTP/1.1\r\n\r\n', '');
    expect(r.req.map((m) => m.summary)).toEqual(['GET /x HTTP/1.1']);
    const ps = httpPlugin.parsers();
    for (let i = 0; i < 80; i++) ps[0].push(Buffer.from('x'.repeat(1023) + '\n'), i * 1024);
    expect(ps[0].stopped).toMatch(/no HTTP|64 KiB/);
  });

  it('detects HTTP by its first bytes, on any port', () => {
    expect(httpPlugin.detect(Buffer.from('GET / HTTP/1.1\r\n'), 0)).toBe(true);
    expect(httpPlugin.detect(Buffer.from('HTTP/1.1 200 OK'), 1)).toBe(true);
    expect(httpPlugin.detect(Buffer.from('\x16\x03\x01\x02\x00'), 0)).toBe(false);
    expect(httpPlugin.detect(Buffer.from('*1\r\n$4\r\nPING'), 0)).toBe(false);
  });
});

describe('fuzzing the HTTP parser', () => {
  it('2,000 mutated HTTP streams, cut at random: no throw, no hang', () => {
    const corpus = ['zeek-http-cooper-grill-dvwa.pcapng', 'zeek-http-get.pcap', 'suri-http-evader-017.pcap'].flatMap((f) => parseCapture(f).streams.flat()).filter((b) => b.length > 0);
    const messages = fuzzPlugin(httpPlugin, corpus, 2000, 424242);
    expect(messages).toBeGreaterThan(300); // mutations hurt, but most streams still hold messages
  });
});
