/**
 * `weft flows` over N engine threads (main/service/shards/) prints exactly the same bytes for
 * N = 1, 2, 3, 4 — numbers, order, hashes, gaps, anomalies, late packets — and the same flows as
 * the one-thread pipeline (runFlows), on every real and coverage fixture, on all of them read as
 * one capture, and on generated captures of both benchmark profiles; with small read chunks, so
 * packets split across batches (the reader's scratch, copied to the spill memory, which grows for
 * 64 KiB frames) are everywhere. A worker that fails ends the run with its message.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runFlows } from '../../main/service/pipeline/flow-recorder';
import { compileFilter } from '../../main/service/pipeline/flow-query';
import { runShardedFlows, type ShardedFlowsOptions } from '../../main/service/shards/flows-run';
import { runShardedMessages } from '../../main/service/shards/messages-run';
import type { ShardedRunTuning } from '../../main/service/shards/sharded';
import { messageLine, runMessages } from '../../main/service/pipeline/messages';
import { exportFlows, type ExportFormat } from '../../main/service/export/export';
import { COVERAGE, MALFORMED, REAL, captureFiles } from '../helpers/fixtures';
import { ether, ipv4, tcp } from '../helpers/packet-builder';
import { PcapWriter } from '../../main/engine/formats';
import { TcpFlags } from '../../main/engine/decode';
import { writeSynFlood } from '../bench/gen-synflood';

const GEN = join(__dirname, '..', 'bench', 'gen-pcap.mjs');
const WEFT = join(__dirname, '..', '..', 'out', 'cli', 'weft.cjs');
const dir = mkdtempSync(join(tmpdir(), 'weft-shards-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function generate(name: string, args: string[]): string {
  const out = join(dir, name);
  execFileSync(process.execPath, [GEN, '--out', out, ...args], { stdio: 'ignore' });
  return out;
}

type Opts = Partial<Omit<ShardedFlowsOptions, 'line' | 'threads'>>;

/** The sharded run's output as text, and its counts. */
async function sharded(files: string[], threads: number, o: Opts = {}) {
  let text = '';
  const r = await runShardedFlows(files, {
    threads,
    json: true,
    idleSec: 600,
    policy: 'first',
    hostPolicies: [],
    chunkBytes: 16 << 10,
    ...o,
    line: (prefix, b, start, end) => (text += prefix + Buffer.from(b.subarray(start, end)).toString('latin1') + '\n'),
  });
  return { text, r };
}

/** The one-thread pipeline's JSON lines (TCP and UDP), in its own order. */
async function oneThread(files: string[], idleSec = 600): Promise<string[]> {
  const lines: string[] = [];
  await runFlows(files, { json: (l) => lines.push(l) }, { idleSec, udp: (u) => lines.push(JSON.stringify(u)) });
  return lines;
}

/** Every N gives the same bytes, and the same flows as one thread (whose order within a packet may differ). */
async function expectSameForEveryN(files: string[], o: Opts = {}): Promise<string> {
  const outs = [];
  for (const n of [1, 2, 3, 4]) outs.push(await sharded(files, n, o));
  for (const x of outs.slice(1)) {
    expect(x.text).toBe(outs[0].text);
    expect(x.r).toEqual(outs[0].r);
  }
  const lines = outs[0].text.split('\n').filter((l) => l !== '');
  expect([...lines].sort()).toEqual((await oneThread(files, o.idleSec)).sort());
  // numbered 1, 2, … in order of the packet that began each
  const ids = lines.map((l) => (JSON.parse(l) as { id: number }).id);
  expect([...ids].sort((a, b) => a - b)).toEqual(ids.map((_, i) => i + 1));
  return outs[0].text;
}

/** weft messages' lines over N threads. */
async function shardedMessages(files: string[], threads: number, json = true, tuning: ShardedRunTuning = {}): Promise<string> {
  let text = '';
  await runShardedMessages(files, { threads, plugins: null, pluginOptions: {}, json, chunkBytes: 16 << 10, ...tuning, line: (b, from, to) => (text += Buffer.from(b.subarray(from, to)).toString('utf8') + '\n') });
  return text;
}

describe('sharded messages: the same for every number of threads', () => {
  it('on every real fixture and on all of them as one capture, as JSON and as text; the same messages as one thread', async () => {
    const real = captureFiles(REAL).map((f) => join(REAL, f));
    let messages = 0;
    for (const files of [...real.map((f) => [f]), real]) {
      const one = await shardedMessages(files, 1);
      for (const n of [2, 3, 4]) expect(await shardedMessages(files, n), files.join(' ')).toBe(one);
      const ref: string[] = [];
      await runMessages(files, (m) => ref.push(messageLine(m, true)));
      expect(one.split('\n').filter(Boolean).sort()).toEqual(ref.sort());
      if (files.length > 1) messages = ref.length;
    }
    expect(messages).toBeGreaterThan(150);
    expect(await shardedMessages(real, 3, false)).toBe(await shardedMessages(real, 1, false));
    // the end of the input in parts of 1 KiB, each worker at most 2 KiB ahead of the merger
    expect(await shardedMessages(real, 3, true, { partBytes: 1024, unmergedKiB: 2 })).toBe(await shardedMessages(real, 1));
  });

  it('on a generated capture of 2,000 HTTP connections', async () => {
    const f = generate('http.pcap', ['--conns', '2000', '--profile', 'small', '--seed', '9', '--anomaly', '0.05']);
    const one = await shardedMessages([f], 1);
    expect(await shardedMessages([f], 2)).toBe(one);
    expect(await shardedMessages([f], 4)).toBe(one);
    expect(one.split('\n').length - 1).toBeGreaterThan(3000);
  });
});

/** An export's files (the manifest without its creation time), by name. */
async function exported(files: string[], threads: number, formats: ExportFormat[], filter?: string): Promise<Record<string, string>> {
  const out = mkdtempSync(join(dir, `export-${threads}-`));
  const r = await exportFlows({ files, formats, out, threads, filter });
  const got: Record<string, string> = {};
  for (const f of r.files) got[f] = readFileSync(join(r.dir, f), 'latin1').replace(/"created": "[^"]*"/, '');
  rmSync(out, { recursive: true, force: true });
  return got;
}

describe('sharded export: the same files for every number of threads', () => {
  it('every format, on all the real fixtures as one capture and on a generated capture', async () => {
    const real = captureFiles(REAL).map((f) => join(REAL, f));
    const gen = generate('export.pcap', ['--conns', '600', '--profile', 'small', '--seed', '4', '--anomaly', '0.1']);
    for (const [files, formats] of [
      [real, ['raw', 'transcript', 'pcapng', 'jsonl', 'csv', 'har']],
      [[gen], ['raw', 'transcript', 'pcap', 'pcapng', 'jsonl', 'csv', 'har']],
    ] as [string[], ExportFormat[]][]) {
      const one = await exported(files, 1, formats);
      expect(Object.keys(one).length).toBeGreaterThan(20);
      for (const n of [2, 3, 4]) expect(await exported(files, n, formats)).toEqual(one);
    }
    // a filter and fewer flows: the threads find the chosen ones by the packet that created them
    const some = await exported(real, 1, ['raw', 'pcapng', 'jsonl'], 'port:80 and id > 20');
    expect(await exported(real, 3, ['raw', 'pcapng', 'jsonl'], 'port:80 and id > 20')).toEqual(some);
    expect(some['flows.jsonl'].trim().split('\n').length).toBeGreaterThan(3);
  });
});

describe('sharded flows: the same for every number of threads', () => {
  const real = captureFiles(REAL).map((f) => join(REAL, f));
  const coverage = captureFiles(COVERAGE).map((f) => join(COVERAGE, f));

  it('on every real fixture', async () => {
    expect(real.length).toBeGreaterThan(20);
    for (const f of real) await expectSameForEveryN([f]);
  });

  it('on every coverage fixture (link layers, tunnels, fragments)', async () => {
    expect(coverage.length).toBeGreaterThan(10);
    for (const f of coverage) await expectSameForEveryN([f]);
  });

  it('on all the real fixtures read as one capture (numbers and times run on across files)', async () => {
    const text = await expectSameForEveryN(real);
    expect(text.split('\n').length).toBeGreaterThan(90);
  });

  it('on generated captures of many small connections, with loss, reordering, retransmissions and RSTs', async () => {
    const f = generate('small.pcap', ['--conns', '3000', '--profile', 'small', '--seed', '7', '--anomaly', '0.12']);
    const text = await expectSameForEveryN([f]);
    expect(text.split('\n').length - 1).toBe(3000);
  });

  it('on a generated bulk capture (large transfers, IPv4 and IPv6), read in chunks smaller than its packets split', async () => {
    const f = generate('bulk.pcap', ['--conns', '40', '--profile', 'bulk', '--seed', '3', '--anomaly', '0.05']);
    await expectSameForEveryN([f], { chunkBytes: 4096 });
  });

  it('with frames bigger than the spill memory (TSO super-segments of 300 KB and 700 KB split over many chunks)', async () => {
    const f = join(dir, 'tso.pcap');
    const chunks: Uint8Array[] = [];
    const w = new PcapWriter((c) => chunks.push(c.slice()), { linkType: 1, snapLen: 1 << 20 });
    const c = { src: [10, 0, 0, 1], dst: [10, 0, 0, 2] };
    const s = { src: [10, 0, 0, 2], dst: [10, 0, 0, 1] };
    let t = 0;
    const put = (frame: Uint8Array) => w.packet(1_700_000_000, (t += 1000) * 1000, frame);
    const seg = (ip: typeof c, o: Parameters<typeof tcp>[0], data?: Uint8Array, totalLength?: number) => put(ether(0x0800, ipv4({ ...ip, proto: 6, totalLength }, tcp(o, data))));
    seg(c, { sport: 40000, dport: 80, seq: 100, flags: TcpFlags.SYN });
    seg(s, { sport: 80, dport: 40000, seq: 900, ack: 101, flags: TcpFlags.SYN | TcpFlags.ACK });
    seg(c, { sport: 40000, dport: 80, seq: 101, ack: 901, flags: TcpFlags.ACK });
    let seq = 101;
    for (const n of [300_000, 1200, 700_000, 500]) {
      const data = new Uint8Array(n).map((_, i) => (i * 31 + n) & 255);
      // an IPv4 total length of 0, as TSO/GSO super-segments are captured
      seg(c, { sport: 40000, dport: 80, seq, ack: 901, flags: TcpFlags.ACK | TcpFlags.PSH }, data, n > 65000 ? 0 : undefined);
      seq += n;
      seg(s, { sport: 80, dport: 40000, seq: 901, ack: seq, flags: TcpFlags.ACK });
    }
    seg(c, { sport: 40000, dport: 80, seq, ack: 901, flags: TcpFlags.FIN | TcpFlags.ACK });
    seg(s, { sport: 80, dport: 40000, seq: 901, ack: seq + 1, flags: TcpFlags.FIN | TcpFlags.ACK });
    seg(c, { sport: 40000, dport: 80, seq: seq + 1, ack: 902, flags: TcpFlags.ACK });
    writeFileSync(f, Buffer.concat(chunks));
    const text = await expectSameForEveryN([f], { chunkBytes: 8192 });
    expect((JSON.parse(text) as { bytes: { c2s: number } }).bytes.c2s).toBe(1_001_700);
  });

  it('with the end of the input sent in small parts and each worker held a few results ahead of the merger: the same bytes', async () => {
    // 5,000 SYNs: every connection is still open when the input ends (5,000 lines, 3 MB, end at once)
    const syn = join(dir, 'syn.pcap');
    writeSynFlood(syn, 5000);
    const small = generate('parts.pcap', ['--conns', '1500', '--profile', 'small', '--seed', '13', '--anomaly', '0.1', '--concurrency', '400']);
    // all the real fixtures: TCP connections, UDP conversations and flows in their after-close window end together
    for (const files of [real, [syn], [small]]) {
      const whole = await expectSameForEveryN(files);
      const inParts = await expectSameForEveryN(files, { partBytes: 2048, unmergedKiB: 4 });
      expect(inParts, files.join(' ')).toBe(whole);
    }
  });

  it('with a short idle time (idle closes and resumed flows decided on the capture clock of every packet)', async () => {
    const f = generate('idle.pcap', ['--conns', '1500', '--profile', 'small', '--seed', '11', '--concurrency', '50']);
    await expectSameForEveryN([f], { idleSec: 0.05 });
  });

  it('with a filter (applied with the capture-wide numbers: id ranges select the same flows)', async () => {
    const f = generate('filter.pcap', ['--conns', '800', '--profile', 'small', '--seed', '5']);
    const texts = [];
    for (const n of [1, 2, 4]) texts.push((await sharded([f], n, { filter: compileFilter('id >= 100 and id < 300 and not state:rst') })).text);
    expect(texts[1]).toBe(texts[0]);
    expect(texts[2]).toBe(texts[0]);
    const ids = texts[0].split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { id: number; close: string }).id);
    expect(ids.length).toBeGreaterThan(100);
    expect(ids.every((i) => i >= 100 && i < 300)).toBe(true);
  });

  it('a damaged capture: the same flows before the damage, and the same error, for every N', async () => {
    const f = join(MALFORMED, 'mk-cut-mid-packet--zeek-http-get.pcap');
    const outs = [await sharded([f], 1), await sharded([f], 3)];
    expect(outs[1].text).toBe(outs[0].text);
    expect(outs[0].r.errors.map((e) => e.message)).toEqual(outs[1].r.errors.map((e) => e.message));
    expect(outs[0].r.errors.length).toBe(1);
    expect(outs[0].r.errors[0].offset).toBeGreaterThan(0);
  });

  it('the CLI: --threads N prints the same bytes, from a file or from standard input, table or JSON', () => {
    const f = join(REAL, 'suri-http-evader-017.pcap');
    const run = (args: string[], input?: Buffer) => {
      const r = spawnSync(process.execPath, [WEFT, 'flows', ...args], { input, encoding: 'latin1' });
      expect(r.status).toBe(0);
      return r.stdout;
    };
    const base = run(['--json', '--threads', '1', ...real]);
    expect(run(['--json', '--threads', '4', ...real])).toBe(base);
    expect(run(['--json', '--threads', '3', '-'], readFileSync(f))).toBe(run(['--json', '--threads', '1', f]));
    expect(run(['--threads', '2', ...real])).toBe(run(['--threads', '1', ...real]));
    const bad = spawnSync(process.execPath, [WEFT, 'flows', '--threads', '0', f], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--threads needs a whole number of engine threads from 1 to 64, not '0'/);
  });

  it('a slow reader of the output holds the run back (the merger waits for the drain, the reader for the merger) instead of filling memory', async () => {
    const f = generate('drain.pcap', ['--conns', '3000', '--profile', 'small', '--seed', '6']);
    let lines = 0;
    let read = 0;
    let release: () => void = () => {};
    let blocked = true;
    const run = runShardedFlows([f], {
      threads: 2,
      json: true,
      idleSec: 600,
      policy: 'first',
      hostPolicies: [],
      chunkBytes: 16 << 10,
      maxWaitingBytes: 64 << 10,
      line: () => lines++,
      read: { onProgress: (p) => (read = p.bytesDone) },
      // the output "drains" only when the test says so
      drain: () => (blocked && lines > 0 ? new Promise<void>((r) => (release = r)) : undefined),
    });
    await new Promise((r) => setTimeout(r, 400));
    const held = { lines, read };
    await new Promise((r) => setTimeout(r, 400));
    expect({ lines, read }).toEqual(held); // nothing moved while the output did not drain
    expect(read).toBeLessThan(statSync(f).size / 2);
    blocked = false;
    release();
    const r = await run;
    expect(r.flows).toBe(3000);
    expect(lines).toBe(3000);
  });

  it('the CLI stops reading when its output\'s reader goes away (weft flows … | head): exit 0, nothing on stderr', async () => {
    const f = generate('epipe.pcap', ['--conns', '20000', '--profile', 'small', '--seed', '12']);
    const child = spawn(process.execPath, [WEFT, 'flows', '--json', '--threads', '2', f], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    // read the first chunk of output, then close our end of the pipe
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy();
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect([code, err]).toEqual([0, '']);
  });

  it('a worker that fails (its heap limit passed) ends the run with a message naming it; the process goes on', async () => {
    const f = generate('heavy.pcap', ['--conns', '20000', '--profile', 'small', '--seed', '2', '--concurrency', '20000']);
    await expect(sharded([f], 2, { workerLimits: { maxOldGenerationSizeMb: 4, maxYoungGenerationSizeMb: 1 } })).rejects.toThrow(/engine thread [12] of 2 failed: .*(memory|heap)/i);
    // and the next run, with room, works
    const ok = await sharded([join(REAL, 'suri-http-evader-017.pcap')], 2);
    expect(ok.r.flows).toBeGreaterThan(0);
  });
});
