/**
 * The session service with the engine in its own process (as weft serve runs it): files in, flow rows and stream
 * bytes (with provenance, gaps, conflicts) out, deltas throttled.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SessionDelta } from '../../main/ipc/contract';
import { runMessages, type MessageRecord } from '../../main/service/pipeline/messages';
import { Session } from '../../main/service/session/session';
import { ChildProcessHost } from '../../main/service/hosts/child-host';
import { expectedReal, REAL } from '../helpers/fixtures';

const tmp = mkdtempSync(join(tmpdir(), 'weft-session-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function withSession<T>(fn: (s: Session) => Promise<T>): Promise<T> {
  const s = new Session(new ChildProcessHost({ spoolParent: tmp }));
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

async function readAll(s: Session, id: number, dir: 0 | 1) {
  const r = await s.readStream({ id, dir, from: 0, to: 16 * 1024 * 1024 });
  if (!r.ok) throw new Error(r.error);
  return { ...r.value, bytes: Buffer.from(r.value.data, 'base64') };
}

describe('session service', () => {
  it('opens a capture in the worker; rows, stream bytes and provenance come back', async () => {
    await withSession(async (s) => {
      const opened = await s.openCapture({ path: join(REAL, 'zeek-irc-5k-line.pcap') });
      expect(opened.ok).toBe(true);
      await s.whenIdle();
      const page = await s.queryFlows({ offset: 0, limit: 100 });
      if (!page.ok) throw new Error(page.error);
      const exp = expectedReal()['zeek-irc-5k-line.pcap'].connections;
      expect(page.value.total).toBe(exp.length);
      for (const e of exp) {
        const row = page.value.rows.find((r) => [r.client, r.server].sort().join() === [e.client, e.server].sort().join())!;
        const same = row.client === e.client;
        const c2s = await readAll(s, row.id, same ? 0 : 1);
        const s2c = await readAll(s, row.id, same ? 1 : 0);
        expect(createHash('sha256').update(c2s.bytes).digest('hex')).toBe(e.sha256_c2s);
        expect(createHash('sha256').update(s2c.bytes).digest('hex')).toBe(e.sha256_s2c);
        expect(row.state).not.toBe('open');
        expect(row.sha256).not.toBeNull();
      }
      // provenance: every byte maps to a frame, in order
      const big = page.value.rows.reduce((a, b) => (a.bytes.c2s + a.bytes.s2c > b.bytes.c2s + b.bytes.s2c ? a : b));
      const d = await readAll(s, big.id, big.bytes.c2s >= big.bytes.s2c ? 0 : 1);
      expect(d.provenance.reduce((n, p) => n + p.length, 0)).toBe(d.bytes.length);
      expect(d.provenance.every((p, i) => i === 0 || p.offset === d.provenance[i - 1].offset + d.provenance[i - 1].length)).toBe(true);
      expect(d.provenance.every((p) => p.frame > 0 && p.tsSec > 1e9)).toBe(true);
      // a byte range from the middle
      const mid = await s.readStream({ id: big.id, dir: big.bytes.c2s >= big.bytes.s2c ? 0 : 1, from: 100, to: 150 });
      expect(mid.ok && Buffer.from(mid.value.data, 'base64')).toEqual(d.bytes.subarray(100, 150));
    });
  });

  it("each flow's protocol in its row, and its messages for the protocol tab: the same as weft messages", async () => {
    const files = ['zeek-mysql.pcap', 'mongo-op-command-2inserts-null.pcap', 'zeek-redis-pipelining.pcap', 'zeek-spicy-gap-recovery.pcap', 'zeek-http-cooper-grill-dvwa.pcapng'];
    for (const file of files) {
      const cli: MessageRecord[] = [];
      await runMessages([join(REAL, file)], (m) => cli.push(m));
      await withSession(async (s) => {
        await s.openCapture({ path: join(REAL, file) });
        await s.whenIdle();
        const page = await s.queryFlows({ offset: 0, limit: 100, filter: '!proto:none' });
        if (!page.ok) throw new Error(page.error);
        const got: string[] = [];
        for (const row of page.value.rows) {
          const r = await s.readMessages({ id: row.id });
          if (!r.ok) throw new Error(r.error);
          expect(r.value.protocol).toBe(row.protocol);
          for (const m of r.value.messages) got.push(`${row.client} ${row.protocol} ${m.dir} ${m.kind} [${m.start},${m.end}) frame ${m.frame} ${m.summary}`);
          if (row.protocol === 'mongodb') expect((r.value.messages[0].fields.documents as object[])[0]).toMatchObject({ insert: 'test' });
        }
        const want = cli.map((m) => `${m.client} ${m.protocol} ${m.dir === 'c2s' ? 0 : 1} ${m.kind} [${m.start},${m.end}) frame ${m.frame} ${m.summary}`);
        expect({ file, messages: got.sort() }).toEqual({ file, messages: want.sort() });
        expect(got.length).toBeGreaterThan(2);
      });
    }
  });

  it('exports as a job: progress, done with its files; a cancelled export leaves nothing; live sessions and unknown flows are refused', async () => {
    await withSession(async (s) => {
      expect(await s.exportFlows({ formats: ['raw'], out: join(tmp, 'none') })).toEqual({ ok: false, error: 'nothing to export yet: open a capture file first' });
      await s.openCapture({ path: join(REAL, 'zeek-http-cooper-grill-dvwa.pcapng') });
      await s.whenIdle();
      const page = await s.queryFlows({ offset: 0, limit: 10, filter: 'proto:http' });
      if (!page.ok) throw new Error(page.error);
      const out = join(tmp, 'session-export');
      const started = await s.exportFlows({ formats: ['raw', 'jsonl'], out, ids: page.value.rows.map((r) => r.id) });
      if (!started.ok) throw new Error(started.error);
      await s.whenIdle();
      const st = await s.getState({});
      const job = st.ok ? st.value.jobs.find((j) => j.id === started.value.id)! : null;
      expect(job).toMatchObject({ kind: 'export', state: 'done', packets: 3 });
      expect(job!.files).toContain('manifest.json');
      expect(job!.files!.filter((f) => /^\d{3}\./.test(f)).length).toBe(6);
      // the manifest names the version, as weft export's does (it said "dev")
      const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
      expect(JSON.parse(readFileSync(join(job!.path, 'manifest.json'), 'utf8')).weft).toBe(pkg.version);
      expect(await s.exportFlows({ formats: ['raw'], out, ids: [9999] })).toEqual({ ok: false, error: 'no flow #9999 in this session' });
    });
  });

  it('the app exports the UDP conversations chosen in its table beside the connections, as the table numbers them', async () => {
    await withSession(async (s) => {
      await s.openCapture({ path: join(__dirname, '..', 'fixtures', 'synthetic', 's-udp-conversations.pcap') });
      await s.openCapture({ path: join(REAL, 'zeek-http-get.pcap') });
      await s.whenIdle();
      const page = await s.queryFlows({ offset: 0, limit: 20 });
      if (!page.ok) throw new Error(page.error);
      const dns = page.value.rows.find((r) => r.protocol === 'dns')!;
      const http = page.value.rows.find((r) => r.protocol === 'http')!;
      const out = join(tmp, 'session-export-udp');
      const started = await s.exportFlows({ formats: ['jsonl'], out, ids: [dns.id, http.id] });
      if (!started.ok) throw new Error(started.error);
      await s.whenIdle();
      const st = await s.getState({});
      const job = st.ok ? st.value.jobs.find((j) => j.id === started.value.id)! : null;
      expect(job).toMatchObject({ kind: 'export', state: 'done', error: null });
      const lines = readFileSync(join(job!.path, 'flows.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
      expect(lines.map((l) => [l.weft_id, l.proto, l.service])).toEqual([
        [dns.id, 'udp', 'dns'],
        [http.id, 'tcp', 'http'],
      ]);
    });
  });

  it("a UDP conversation's packets: its datagrams' frames, times, directions and lengths (no TCP fields); go to frame finds them", async () => {
    await withSession(async (s) => {
      await s.openCapture({ path: join(__dirname, '..', 'fixtures', 'synthetic', 's-udp-conversations.pcap') });
      await s.whenIdle();
      const page = await s.queryFlows({ offset: 0, limit: 20, filter: 'proto:udp' });
      if (!page.ok) throw new Error(page.error);
      // tshark -r s-udp-conversations.pcap: frames 1-2 and 4/3 the two DNS exchanges, 5-6 QUIC,
      // 7-8 syslog, 9-11 the fragmented datagram (reassembled at 11), 12-13 Teredo, 14 port 9
      const frames: Record<string, number[]> = {};
      for (const r of page.value.rows) {
        const p = await s.readPackets({ id: r.id, from: 0, count: 100 });
        if (!p.ok) throw new Error(p.error);
        expect(p.value.total).toBe(r.packets.c2s + r.packets.s2c);
        expect(p.value.flags.every((f) => f === 0) && p.value.seq.every((x) => x === 0)).toBe(true);
        frames[r.server] = p.value.frame;
        if (r.server === '10.9.0.53:53' && r.client.endsWith(':33000')) expect([p.value.dir, p.value.len]).toEqual([[0, 1], [27, 43]]);
      }
      expect(frames['192.0.2.80:443']).toEqual([5, 6]);
      expect(frames['10.9.0.2:514']).toEqual([7, 8]);
      expect(frames['10.9.0.9:5002']).toEqual([11]);
      expect(frames['[2001:db8::8001]:7000']).toEqual([12, 13]);
      expect(frames['10.9.0.53:9']).toEqual([14]);
      const syslog = page.value.rows.find((r) => r.server === '10.9.0.2:514')!;
      expect(await s.findFrame({ frame: 8 })).toEqual({ ok: true, value: { id: syslog.id, index: 1 } });
    });
  });

  it('an export cancelled part-way leaves nothing in its folder', async () => {
    const big = join(tmp, 'big-export.pcap');
    execFileSync(process.execPath, [join(__dirname, '..', 'bench', 'gen-pcap.mjs'), '--out', big, '--conns', '60', '--profile', 'bulk', '--seed', '3'], { stdio: 'ignore' });
    await withSession(async (s) => {
      await s.openCapture({ path: big });
      await s.whenIdle();
      const out = join(tmp, 'session-export-cancelled');
      const c = await s.exportFlows({ formats: ['raw', 'pcapng', 'jsonl'], out });
      if (!c.ok) throw new Error(c.error);
      await s.cancelJob({ id: c.value.id });
      await s.whenIdle();
      const after = await s.getState({});
      expect(after.ok && after.value.jobs.find((j) => j.id === c.value.id)!.state).toBe('cancelled');
      expect(readdirSync(out)).toEqual([]);
    });
  });

  it("frame numbers are the capture's, non-TCP packets counted (tshark's numbers)", async () => {
    await withSession(async (s) => {
      await s.openCapture({ path: join(REAL, 'zeek-http-cooper-grill-dvwa.pcapng') });
      await s.whenIdle();
      const p = await s.queryFlows({ offset: 0, limit: 10, filter: 'port:53796' });
      if (!p.ok) throw new Error(p.error);
      const row = p.value.rows[0];
      const c2s = await readAll(s, row.id, row.client.endsWith(':53796') ? 0 : 1);
      const s2c = await readAll(s, row.id, row.client.endsWith(':53796') ? 1 : 0);
      // tshark -Y 'tcp.len>0 && tcp.port==53796' -T fields -e frame.number: 13 15 17 19 (DNS and ARP before)
      expect([c2s.provenance[0].frame, s2c.provenance.map((x) => x.frame)]).toEqual([13, [15, 17, 19]]);
    });
  });

  it('gaps and conflicting overlaps come with the stream for marking', async () => {
    await withSession(async (s) => {
      await s.openCapture({ path: join(REAL, 'zeek-tcp-reassembly.pcap') });
      await s.whenIdle();
      const p = await s.queryFlows({ offset: 0, limit: 10, filter: 'has:gap has:conflict' });
      if (!p.ok) throw new Error(p.error);
      expect(p.value.total).toBe(1);
      const row = p.value.rows[0];
      const c = await readAll(s, row.id, 0);
      expect(c.gaps.length).toBe(9);
      expect(c.gaps.reduce((n, g) => n + g.length, 0)).toBe(4376);
      expect(c.conflicts.length).toBeGreaterThan(0);
      expect(c.conflicts[0].kept.length).toBeGreaterThan(0);
      const st = await s.getState({});
      if (!st.ok) throw new Error(st.error);
      expect(st.value.stats.anomalies).toMatchObject({ gap: 9, 'conflicting-overlap': expect.any(Number) });
    });
  });

  it('pages, sorts and filters the flow table', async () => {
    await withSession(async (s) => {
      await s.openCapture({ path: join(REAL, 'suri-port-reuse-24conns.pcap') });
      await s.openCapture({ path: join(REAL, 'zeek-http-cooper-grill-dvwa.pcapng') });
      await s.whenIdle();
      const all = await s.queryFlows({ offset: 0, limit: 1000 });
      if (!all.ok) throw new Error(all.error);
      expect(all.value.total).toBe(28);
      const page2 = await s.queryFlows({ offset: 10, limit: 10, sort: { key: 'id', dir: 'asc' } });
      expect(page2.ok && page2.value.rows.map((r) => r.id)).toEqual(all.value.rows.slice(10, 20).map((r) => r.id));
      const byBytes = await s.queryFlows({ offset: 0, limit: 5, sort: { key: 'bytesS2c', dir: 'desc' } });
      if (!byBytes.ok) throw new Error(byBytes.error);
      const b = byBytes.value.rows.map((r) => r.bytes.s2c);
      expect(b).toEqual([...b].sort((x, y) => y - x));
      const http = await s.queryFlows({ offset: 0, limit: 100, filter: 'port:80 192.168.111' });
      expect(http.ok && http.value.total).toBe(4);
      const notHttp = await s.queryFlows({ offset: 0, limit: 100, filter: '!192.168.111' });
      expect(notHttp.ok && notHttp.value.total).toBe(24);
      const bad = await s.queryFlows({ offset: 0, limit: 10, filter: 'colour:red' });
      expect(bad).toEqual({ ok: false, error: "unknown filter 'colour:' at character 1 (use has:, state:, port:, ip:, proto:, a comparison such as bytes > 1M, or plain text)" });
    });
  });

  it('refuses files that cannot be read, saying why', async () => {
    await withSession(async (s) => {
      expect(await s.openCapture({ path: '/nonexistent/x.pcap' })).toEqual({ ok: false, error: '/nonexistent/x.pcap: no such file' });
      expect((await s.openCapture({ path: REAL })) as { error: string }).toMatchObject({ ok: false, error: expect.stringMatching(/not a regular file|is a directory/) });
      expect(await s.openCapture({ path: join(REAL, 'SOURCES.md') })).toMatchObject({ ok: false, error: expect.stringMatching(/not a pcap or pcapng file/) });
    });
  });

  it('a file being read can be paused, resumed and cancelled', async () => {
    const file = join(tmp, 'pause.pcap');
    execFileSync(process.execPath, [join(__dirname, '..', 'bench', 'gen-pcap.mjs'), '--out', file, '--conns', '300', '--profile', 'bulk', '--seed', '6'], { stdio: 'ignore' });
    await withSession(async (s) => {
      let last: SessionDelta | null = null;
      s.onDelta((d) => (last = d));
      const job = await s.openCapture({ path: file });
      if (!job.ok) throw new Error(job.error);
      const id = job.value.id;
      await new Promise((r) => setTimeout(r, 150));
      expect(await s.pauseJob({ id, paused: true })).toMatchObject({ ok: true });
      await new Promise((r) => setTimeout(r, 300));
      const j1 = last!.jobs[0];
      expect(j1.state).toBe('paused');
      await new Promise((r) => setTimeout(r, 300));
      expect(last!.jobs[0].bytesDone).toBe(j1.bytesDone); // no progress while paused
      expect(j1.bytesDone).toBeLessThan(j1.bytesTotal);
      await s.pauseJob({ id, paused: false });
      await s.whenIdle();
      expect(last!.jobs[0]).toMatchObject({ state: 'done', bytesDone: j1.bytesTotal });
      // cancel a second read of the same file part-way
      const again = await s.openCapture({ path: file });
      if (!again.ok) throw new Error(again.error);
      // held between chunks (a fast machine reads the whole file in 100 ms), then cancelled
      await s.pauseJob({ id: again.value.id, paused: true });
      await new Promise((r) => setTimeout(r, 100));
      await s.cancelJob({ id: again.value.id });
      await s.whenIdle();
      const j2 = last!.jobs.find((j) => j.id === again.value.id)!;
      expect(j2.state).toBe('cancelled');
      expect(j2.bytesDone).toBeLessThan(j2.bytesTotal);
      expect(await s.pauseJob({ id: again.value.id, paused: true })).toMatchObject({ ok: false, error: expect.stringMatching(/is cancelled/) });
    });
  }, 120_000);

  it('flows appear while a large file is still loading, deltas stay at about ten a second', async () => {
    const file = join(tmp, 'large.pcap');
    execFileSync(process.execPath, [join(__dirname, '..', 'bench', 'gen-pcap.mjs'), '--out', file, '--conns', '240', '--profile', 'bulk', '--seed', '5'], { stdio: 'ignore' });
    await withSession(async (s) => {
      const deltas: { at: number; d: SessionDelta }[] = [];
      s.onDelta((d) => deltas.push({ at: Date.now(), d }));
      const t0 = Date.now();
      await s.openCapture({ path: file });
      await s.whenIdle();
      const elapsed = (Date.now() - t0) / 1000;
      const whileLoading = deltas.filter((x) => x.d.jobs.some((j) => j.state === 'running') && x.d.changed > 0 && x.d.flows > 0);
      expect(whileLoading.length).toBeGreaterThan(0);
      expect(deltas.length).toBeLessThanOrEqual(Math.ceil(elapsed * 10) + 3);
      // a delta says how many rows changed, not which: its size does not grow with the flows
      for (const x of deltas) expect(JSON.stringify(x.d).length).toBeLessThan(4096);
      expect(deltas.at(-1)!.d.flows).toBe(240);
      const page = await s.queryFlows({ offset: 0, limit: 1000 });
      expect(page.ok && page.value.total).toBe(240);
      const last = deltas.at(-1)!.d;
      expect(last.jobs[0]).toMatchObject({ state: 'done', bytesDone: last.jobs[0].bytesTotal });
      expect(last.stats.completedFlows).toBe(240);
      expect(last.stats.spoolBytes).toBeGreaterThan(10_000_000);
      // while loading the figure was the load's rate; idle, it falls to 0 (it used to freeze)
      expect(Math.max(...deltas.map((x) => x.d.stats.throughput))).toBeGreaterThan(1e6);
      await new Promise((r) => setTimeout(r, 1500));
      expect(deltas.at(-1)!.d.stats.throughput).toBe(0);
    });
  }, 120_000);
});
