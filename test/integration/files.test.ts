/**
 * Files in a session: capture files dropped on the browser page are uploaded into weft serve's
 * own folder (token required, names made safe, non-captures and oversized bodies refused, the
 * folder removed with the server) and opened; the recent files are kept between runs; "close"
 * starts a new, empty session with a fresh engine; the capture timeline counts what the filter keeps.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { safeUploadName, startServer } from '../../main/server/serve';
import { ChildProcessHost } from '../../main/service/hosts/child-host';
import { RecentFiles } from '../../main/service/recent';
import { Session } from '../../main/service/session/session';
import { REAL } from '../helpers/fixtures';

const tmp = mkdtempSync(join(tmpdir(), 'weft-files-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const RENDERER = join(__dirname, '..', '..', 'out', 'renderer');

describe('recent files', () => {
  it('newest first, no repeats, at most 12, kept in a file between runs; a damaged file is an empty list', () => {
    const file = join(tmp, 'cfg', 'weft', 'recent.json');
    const a = new RecentFiles(file);
    expect(a.list()).toEqual([]);
    for (let i = 0; i < 15; i++) a.add(`/captures/${i}.pcap`);
    a.add('/captures/3.pcap');
    const b = new RecentFiles(file); // another run
    expect(b.list()[0]).toBe('/captures/3.pcap');
    expect(b.list()).toHaveLength(12);
    expect(new Set(b.list()).size).toBe(12);
    writeFileSync(file, '{not json');
    expect(new RecentFiles(file).list()).toEqual([]);
  });
});

describe('uploads and a new session', () => {
  it('a dropped file is uploaded with the token, kept safe, opened; the rest is refused; close starts over', async () => {
    const recent = new RecentFiles(join(tmp, 'recent.json'));
    const session = new Session(new ChildProcessHost(), recent, () => new ChildProcessHost());
    const uploads = mkdtempSync(join(tmp, 'up-'));
    const srv = await startServer({ session, rendererDir: RENDERER, port: 0, uploadDir: uploads, maxUploadBytes: 1 << 20 });
    const base = `http://127.0.0.1:${srv.port}`;
    const up = (name: string, body: Uint8Array, token = srv.token): Promise<Response> =>
      fetch(`${base}/upload?name=${encodeURIComponent(name)}`, { method: 'POST', body: Buffer.from(body), headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' } });
    try {
      const pcap = readFileSync(join(REAL, 'zeek-http-get.pcap'));
      expect((await up('x.pcap', pcap, 'wrong')).status).toBe(401);
      const bad = await up('notes.txt', new TextEncoder().encode('hello, not a capture'));
      expect(bad.status).toBe(415);
      expect(((await bad.json()) as { error: string }).error).toMatch(/notes\.txt \(20 bytes\) is not a pcap or pcapng file/);
      const big = await up('big.pcap', new Uint8Array((1 << 20) + 10)).catch(() => null);
      if (big) expect(big.status).toBe(413);
      const ok = await up('../../etc/evil name.pcap', pcap);
      expect(ok.status).toBe(202);
      const { path } = (await ok.json()) as { path: string };
      // inside the upload folder, under a safe name; only the accepted file is left
      expect(path.startsWith(uploads + '/')).toBe(true);
      expect(readdirSync(uploads)).toEqual([path.split('/').pop()]);
      expect(path).toMatch(/\/\d+-evil_name\.pcap$/);
      expect(readFileSync(path).equals(pcap)).toBe(true);
      await session.whenIdle();
      expect(session.flowCount).toBe(1);
      const rec = await session.listRecent({});
      expect(rec.ok && rec.value).toEqual([path]);
      // close: no files, no flows, and the new engine works
      expect((await session.newSession({})).ok).toBe(true);
      expect(session.flowCount).toBe(0);
      const st = await session.getState({});
      expect(st.ok && st.value.jobs).toEqual([]);
      await session.openCapture({ path: join(REAL, 'zeek-irc-5k-line.pcap') });
      await session.whenIdle();
      const q = await session.queryFlows({ offset: 0, limit: 100 });
      expect(q.ok && q.value.total).toBe(6);
      // the timeline: every flow starts in one slice, is active from its first to its last; a filter narrows it
      const tl = await session.flowTimeline({ bins: 50 });
      if (!tl.ok || !q.ok) throw new Error('no timeline');
      expect(tl.value.starts.reduce((a, b) => a + b, 0)).toBe(6);
      expect(tl.value.from).toBe(Math.min(...q.value.rows.map((r) => r.firstSeen)));
      expect(tl.value.to).toBe(Math.max(...q.value.rows.map((r) => r.lastSeen)));
      expect(Math.max(...tl.value.active)).toBeLessThanOrEqual(6);
      expect(tl.value.active[0]).toBe(tl.value.starts[0]);
      const one = await session.flowTimeline({ bins: 50, filter: 'port:6667' });
      expect(one.ok && one.value.starts.reduce((a, b) => a + b, 0)).toBe(1);
      expect((await session.flowTimeline({ bins: 50, filter: 'port:' })).ok).toBe(false);
      const rec2 = await session.listRecent({});
      expect(rec2.ok && rec2.value[0]).toBe(join(REAL, 'zeek-irc-5k-line.pcap'));
    } finally {
      await srv.close();
      await session.close();
    }
    // a folder the caller gave stays; one the server made goes with it
    expect(existsSync(uploads)).toBe(true);
    expect(safeUploadName('')).toBe('capture.pcap');
    expect(safeUploadName('..\\\\..\\\\a b?.pcapng')).toBe('a_b_.pcapng');
    expect(safeUploadName('.hidden.pcap')).toBe('hidden.pcap');
  });
});
