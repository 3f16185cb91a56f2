/**
 * The session survives its engine (issue 14): an engine killed while it reads a file (and while a
 * request waits for it) fails that file and that request with a clear error, leaves no spool
 * behind, and is replaced — the next capture loads; a request the engine does not answer times
 * out; a Redis reply nested 1,500 deep (which crashed the engine) is read without harm.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChildProcessHost } from '../../main/service/hosts/child-host';
import { Session } from '../../main/service/session/session';
import { writeConversationPcap } from '../helpers/conversation-pcap';
import { REAL } from '../helpers/fixtures';

const dir = mkdtempSync(join(tmpdir(), 'weft-engine-lost-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function engineSession(askTimeoutMs?: number) {
  const spool = mkdtempSync(join(dir, 'spool-'));
  const first = new ChildProcessHost({ spoolParent: spool });
  const session = new Session(first, null, () => new ChildProcessHost({ spoolParent: spool }), askTimeoutMs);
  return { session, first, spool };
}

describe('the session and its engine', () => {
  it('an engine killed mid-load: the file and the waiting request fail clearly, its spool goes, the next capture loads', async () => {
    const big = join(dir, 'bulk.pcap');
    execFileSync(process.execPath, [join(__dirname, '..', 'bench', 'gen-pcap.mjs'), '--out', big, '--conns', '200', '--profile', 'bulk', '--seed', '5'], { stdio: 'ignore' });
    const { session, first, spool } = engineSession();
    try {
      const pid = first.pid!;
      const job = await session.openCapture({ path: big });
      expect(job.ok).toBe(true);
      // held between chunks, so that it is surely still being read when the engine dies
      if (job.ok) await session.pauseJob({ id: job.value.id, paused: true });
      await expect.poll(() => readdirSync(spool).some((f) => f.startsWith(`weft-session-${pid}-`))).toBe(true);
      // the engine is frozen with the file queued or part-read, and a request waiting for it
      process.kill(pid, 'SIGSTOP');
      const waiting = session.queryFlows({ offset: 0, limit: 10 });
      process.kill(pid, 'SIGKILL');
      const answer = await waiting;
      expect(answer.ok).toBe(false);
      expect(!answer.ok && answer.error).toMatch(/^the engine stopped \(killed by SIGKILL\) before answering; a new one was started: try again$/);
      const state = await session.getState();
      const j = state.ok && state.value.jobs.find((x) => x.path === big)!;
      expect(j && j.state).toBe('failed');
      expect(j && j.error).toMatch(/the engine stopped \(killed by SIGKILL\); a new one was started — open the file again/);
      expect(session.engineRestarts).toBe(1);
      // the page is told, in every delta and in the state a reloaded page asks for
      const told = await session.getState();
      expect(told.ok && told.value.engine).toEqual({ restarts: 1, why: 'killed by SIGKILL', restarted: true });
      // the dead engine's spool is gone
      await expect.poll(() => readdirSync(spool).filter((f) => f.startsWith(`weft-session-${pid}-`))).toEqual([]);
      // and the new engine works: the next capture loads, requests are answered
      const next = await session.openCapture({ path: join(REAL, 'zeek-http-get.pcap') });
      expect(next.ok).toBe(true);
      await session.whenIdle();
      const q = await session.queryFlows({ offset: 0, limit: 10 });
      expect(q.ok && q.value.total).toBe(1);
    } finally {
      await session.close();
    }
  }, 60_000);

  it('a request the engine does not answer times out with an error', async () => {
    const { session, first } = engineSession(400);
    try {
      process.kill(first.pid!, 'SIGSTOP');
      const t0 = Date.now();
      const r = await session.queryFlows({ offset: 0, limit: 10 });
      expect(r.ok).toBe(false);
      expect(!r.ok && r.error).toMatch(/did not answer within 0.4 s/);
      expect(Date.now() - t0).toBeLessThan(3000);
      process.kill(first.pid!, 'SIGCONT');
      expect((await session.queryFlows({ offset: 0, limit: 10 })).ok).toBe(true);
    } finally {
      await session.close();
    }
  });

  it.runIf(process.getuid?.() === 0)('a live capture saved to a file that exists fails and leaves the file as it was', async () => {
    const file = join(dir, 'precious.pcapng');
    writeFileSync(file, 'precious');
    const { session } = engineSession();
    try {
      const j = await session.startCapture({ device: 'lo', filter: 'tcp port 9', write: file });
      expect(j.ok).toBe(true);
      await expect
        .poll(async () => {
          const st = await session.getState();
          return st.ok ? st.value.jobs.find((x) => x.kind === 'live')?.error : null;
        })
        .toMatch(/precious\.pcapng exists already: choose another name \(nothing is replaced\)/);
      expect(readFileSync(file, 'utf8')).toBe('precious');
    } finally {
      await session.close();
    }
  });

  it('Redis replies nested 500 and 1,500 deep: the first read as a message cut at 64 levels, the second stops the parser; the engine stays up', async () => {
    const file = join(dir, 'deep-redis.pcap');
    writeConversationPcap(file, [
      [0, Buffer.from('*1\r\n$4\r\nPING\r\n')],
      [1, Buffer.from('*1\r\n'.repeat(500) + ':1\r\n')],
      [0, Buffer.from('*1\r\n$4\r\nPING\r\n')],
      [1, Buffer.from('*1\r\n'.repeat(1500) + ':1\r\n')],
    ], [40000, 6379]);
    const { session } = engineSession();
    try {
      await session.openCapture({ path: file });
      await session.whenIdle();
      const q = await session.queryFlows({ offset: 0, limit: 10 });
      expect(q.ok && q.value.total).toBe(1);
      const id = q.ok ? q.value.rows[0].id : 0;
      const m = await session.readMessages({ id });
      expect(m.ok).toBe(true);
      const text = JSON.stringify(m.ok && m.value);
      expect(text).toContain('nested deeper than 64 levels');
      expect(m.ok && m.value.stopped).toEqual([null, 'RESP aggregates nested deeper than 512 levels']);
      expect(session.engineRestarts).toBe(0);
    } finally {
      await session.close();
    }
  });

  it("weft serve's engine process starts with the engine's V8 flags (a 16 MiB semi-space)", async () => {
    const host = new ChildProcessHost({ spoolParent: dir });
    try {
      const cmdline = readFileSync(`/proc/${host.pid}/cmdline`, 'utf8').split('\0');
      expect(cmdline).toContain('--max-semi-space-size=16');
      expect(cmdline.some((a) => a.endsWith('engine-child.cjs'))).toBe(true);
    } finally {
      await host.terminate();
    }
  });
});
