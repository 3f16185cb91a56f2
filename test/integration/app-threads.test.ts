/**
 * The app's engine on N worker threads (issue 16): a session whose engine runs 1, 2, 3 or 4
 * workers shows exactly the same — every row (numbers, counts, hashes, states, protocols,
 * anomalies), sorted and filtered pages, the timeline, the stats, and for each flow its stream
 * content with provenance and marks, its messages, its packets, its laid-out rows, a search and
 * its frames — on every real and coverage fixture opened one after another as one session, and
 * on a generated capture of many connections. Frames are looked up with and without the flow
 * they are in. An engine thread that fails fails what was loading with a message naming it, and
 * the session goes on with a new engine.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ChildProcessHost } from '../../main/service/hosts/child-host';
import { Session } from '../../main/service/session/session';
import type { FlowRow, SessionStats } from '../../main/ipc/contract';
import { COVERAGE, REAL, captureFiles } from '../helpers/fixtures';

const dir = mkdtempSync(join(tmpdir(), 'weft-app-threads-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ok<T>(r: { ok: true; value: T } | { ok: false; error: string }): T {
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

/** What stats a user reads that do not depend on timing or the machine. */
function stable(s: SessionStats) {
  return { packets: s.packets, bytes: s.bytes, tcpPackets: s.tcpPackets, activeFlows: s.activeFlows, completedFlows: s.completedFlows, anomalies: s.anomalies, decodeErrors: s.decodeErrors, protocols: s.protocols, spoolBytes: s.spoolBytes, limitClosed: s.limitClosed, budgetGaps: s.budgetGaps, bufferedPages: s.bufferedPages };
}

/** Everything the app shows of the session after `files` are loaded by an engine of `threads` workers (`detail`: which rows to read in depth). */
async function look(files: string[], threads: number, detail: (row: FlowRow, i: number) => boolean) {
  const spool = mkdtempSync(join(dir, 'spool-'));
  const s = new Session(new ChildProcessHost({ spoolParent: spool, threads }));
  try {
    for (const f of files) ok(await s.openCapture({ path: f }));
    await s.whenIdle();
    const rows = ok(await s.queryFlows({ offset: 0, limit: 1e6 })).rows;
    const bySize = ok(await s.queryFlows({ offset: 0, limit: 1e6, sort: { key: 'bytesS2c', dir: 'desc' } })).rows.map((r) => r.id);
    const byClient = ok(await s.queryFlows({ offset: 3, limit: 50, sort: { key: 'client', dir: 'asc' } })).rows.map((r) => r.id);
    const parsed = ok(await s.queryFlows({ offset: 0, limit: 1e6, filter: '!proto:none' })).rows.map((r) => r.id);
    const timeline = ok(await s.flowTimeline({ bins: 40 }));
    const stats = stable(ok(await s.getState()).stats);
    const flows = [];
    for (const [i, row] of rows.entries()) {
      if (!detail(row, i)) continue;
      const id = row.id;
      const streams = [];
      for (const dir of [0, 1] as const) streams.push(ok(await s.readStream({ id, dir, from: 0, to: dir === 0 ? row.bytes.c2s : row.bytes.s2c })));
      const packets = ok(await s.readPackets({ id, from: 0, count: 5000 }));
      const frames = [];
      for (const f of packets.frame.slice(0, 5)) frames.push(ok(await s.findFrame({ frame: f, prefer: id })));
      flows.push({
        id,
        streams,
        packets,
        frames,
        messages: await s.readMessages({ id }),
        text: ok(await s.readRows({ id, view: 'text', wrap: 64, from: 0, count: 100 })),
        hex: ok(await s.readRows({ id, view: 'hex', wrap: 16, from: 2, count: 50, at: { dir: 1, offset: 10 } })),
        search: await s.searchStream({ id, dir: 0, pattern: '0d0a', from: 1 }),
      });
    }
    return { rows, bySize, byClient, parsed, timeline, stats, flows };
  } finally {
    await s.close();
    rmSync(spool, { recursive: true, force: true });
  }
}

describe('the app on N engine threads', () => {
  it('every real and coverage fixture, one after another in one session: the same for N = 1, 2, 3, 4', async () => {
    const files = [...captureFiles(REAL).map((f) => join(REAL, f)), ...captureFiles(COVERAGE).map((f) => join(COVERAGE, f))];
    const one = await look(files, 1, () => true);
    expect(one.rows.length).toBeGreaterThan(100);
    expect(one.flows.some((f) => f.streams.some((x) => x.gaps.length > 0))).toBe(true);
    expect(one.rows.some((r) => r.transport === 'udp')).toBe(true);
    expect(one.stats.completedFlows).toBe(one.rows.length);
    for (const n of [2, 3, 4]) expect(await look(files, n, () => true), `${n} threads`).toEqual(one);
  }, 240_000);

  it('long transfers (the capture ends in packets most workers skip as quiet): the load ends, the same for N = 1 and 2', async () => {
    const file = join(dir, 'bulk.pcap');
    execFileSync(process.execPath, [join(__dirname, '..', 'bench', 'gen-pcap.mjs'), '--out', file, '--conns', '24', '--profile', 'bulk', '--seed', '4'], { stdio: 'ignore' });
    const one = await look([file], 1, () => true);
    expect(one.rows.length).toBe(24);
    expect(await look([file], 2, () => true)).toEqual(one);
  }, 120_000);

  it('2,000 generated connections, several at a time: the same for N = 1 and 3; a frame without its flow is found in the worker that has it', async () => {
    const file = join(dir, 'small.pcap');
    execFileSync(process.execPath, [join(__dirname, '..', 'bench', 'gen-pcap.mjs'), '--out', file, '--conns', '2000', '--profile', 'small', '--seed', '11'], { stdio: 'ignore' });
    const every = (_r: FlowRow, i: number) => i % 97 === 0;
    const one = await look([file], 1, every);
    expect(one.rows.length).toBe(2000);
    const three = await look([file], 3, every);
    expect(three).toEqual(one);
    // without the flow: the one flow that has it, from whichever worker holds it
    const spool = mkdtempSync(join(dir, 'spool-'));
    const s = new Session(new ChildProcessHost({ spoolParent: spool, threads: 3 }));
    try {
      ok(await s.openCapture({ path: file }));
      await s.whenIdle();
      for (const f of one.flows) {
        const frame = f.packets.frame[1];
        expect(ok(await s.findFrame({ frame }))).toEqual({ id: f.id, index: 1 });
      }
    } finally {
      await s.close();
      rmSync(spool, { recursive: true, force: true });
    }
  }, 120_000);

  it('an engine thread that fails (its heap limit passed): the file fails with a message naming it; a new engine loads the next', async () => {
    const file = join(dir, 'many.pcap');
    execFileSync(process.execPath, [join(__dirname, '..', 'bench', 'gen-pcap.mjs'), '--out', file, '--conns', '20000', '--profile', 'small', '--seed', '3'], { stdio: 'ignore' });
    const spool = mkdtempSync(join(dir, 'spool-'));
    const s = new Session(new ChildProcessHost({ spoolParent: spool, threads: 2, threadHeapMb: 4 }), null, () => new ChildProcessHost({ spoolParent: spool, threads: 2 }));
    try {
      const job = ok(await s.openCapture({ path: file }));
      await s.whenIdle();
      const failed = ok(await s.getState()).jobs.find((j) => j.id === job.id)!;
      expect(failed.state).toBe('failed');
      expect(failed.error).toMatch(/^engine thread [12] of 2 failed: .*(memory|heap)/i);
      // the engine left; the session started another, which loads
      await expect.poll(() => s.engineRestarts, { timeout: 10_000 }).toBe(1);
      ok(await s.openCapture({ path: join(REAL, 'tcpdump-ssh.pcap') }));
      await s.whenIdle();
      expect(ok(await s.queryFlows({ offset: 0, limit: 10 })).total).toBeGreaterThan(0);
    } finally {
      await s.close();
      rmSync(spool, { recursive: true, force: true });
    }
  }, 120_000);
});
