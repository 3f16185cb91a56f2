/**
 * `npm run bench`: generates large realistic captures (test/bench/gen-pcap.mjs, a copy of the
 * shared generator) in a temporary folder and measures, in ONE run, each in its own process (so
 * each has its own peak RSS), alternating, best of --rounds. Three profiles:
 *
 *   bulk      ~1 GB, 4,100 connections (--profile bulk)
 *     floor        walking the pcap record headers only (floor.ts)
 *     decode       read + decode every packet
 *     engine       read + decode + reassemble, delivering to a consumer that only counts bytes
 *     http         the same, and every stream also parsed by the HTTP/1.x plugin (gaps included)
 *     baseline     read + decode + a straightforward reassembler (baseline.ts)
 *     flows        `weft flows --json` end to end (the real CLI, sha256 per direction, output to /dev/null)
 *     threads      the same with --threads 1 … cores: the scaling curve (2 against 1, and peak RSS)
 *     app          the app loading the file (a Session over the engine's child process, as weft serve),
 *                  with its engine on 1 … cores worker threads: the scaling curve (2 against 1, and peak RSS)
 *     alloc        heap bytes the engine allocates per in-order packet (measures.ts)
 *     export       `weft export --format raw,pcapng,jsonl` of every flow (two passes over the file),
 *                  on the file and on a fifth of it: peak RSS must not grow with the file
 *     resp         message-heavy parsing: 400,000 pipelined Redis commands and replies (in memory),
 *                  against resp-scan, finding the same bytes' line ends and nothing else
 *   small     ~1 GB, 500,000 connections of one request each (--profile small)
 *     floor, engine, flows, threads, app (load time on 1 … cores engine threads, time to the first flows,
 *     a sorted query of all rows, the engine process's peak RSS)
 *   synflood  1,000,000 SYNs to distinct ports (gen-synflood.ts): `weft flows --json` exits 0 with
 *     every connection printed exactly once (most closed by the connection limit), its peak RSS
 *
 * Engine and flows are also run on captures a fifth the size (memory must not grow with the file).
 * Peers (gopacket) are not run here: `../shared/bench/peers/run.sh FILE` runs them beside Weft.
 * The folder is deleted afterwards.
 *
 * Flags: --size-mb N (default 1024, both profiles), --rounds N (default 3), --profile
 * bulk|small|synflood|all (default all), --file PATH (measure an existing pcap as the bulk
 * profile), --json (print the result object only). Internal: --measure NAME --file F (one
 * measurement), --weft ARGS… (the CLI, reporting its peak RSS on fd 3).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeSynFlood } from './gen-synflood';
import { measure, type AppLoad, type MeasureName } from './measures';

const ROOT = join(__dirname, '..', '..');

interface Sample {
  ms: number;
  bytes: number;
  packets: number;
  maxRssMB: number;
  messages?: number;
}

function child(name: MeasureName, file: string, env?: Record<string, string>): Sample {
  const flags = name === 'alloc' ? ['--expose-gc'] : [];
  const r = spawnSync(process.execPath, [...flags, __filename, '--measure', name, '--file', file], { encoding: 'utf8', maxBuffer: 1 << 20, env: env ? { ...process.env, ...env } : process.env });
  if (r.status !== 0) throw new Error(`measure ${name} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

interface CliRun {
  ms: number;
  maxRssMB: number;
  status: number;
  /** Output lines (with `check`), connection ids seen once each, and lines closed by the limit. */
  lines: number;
  uniqueIds: number;
  limited: number;
}

/**
 * `weft ARGS` as a user runs it (bin/weft.cjs's bundle, in a process of its own) with its peak
 * RSS. Output goes to /dev/null, or with `check` through this process: counted line by line
 * (each connection's id once, how many closed by the limit).
 */
async function weft(args: string[], check = false): Promise<CliRun> {
  const t0 = process.hrtime.bigint();
  const c = spawn(process.execPath, [__filename, '--weft', ...args], { stdio: ['ignore', check ? 'pipe' : openSync('/dev/null', 'w'), 'pipe', 'pipe'] });
  let lines = 0;
  let limited = 0;
  const ids = new Set<number>();
  let rest = '';
  c.stdout?.setEncoding('latin1').on('data', (d: string) => {
    const parts = (rest + d).split('\n');
    rest = parts.pop()!;
    for (const l of parts) {
      lines++;
      ids.add(Number(/^\{"id":(\d+),/.exec(l)?.[1]));
      if (l.includes('"close":"limit"')) limited++;
    }
  });
  let err = '';
  let rss = '';
  c.stderr!.on('data', (d) => (err += d));
  (c.stdio[3] as NodeJS.ReadableStream).on('data', (d) => (rss += d));
  const status = await new Promise<number>((res) => c.on('close', (code) => res(code ?? -1)));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (status !== 0) throw new Error(`weft ${args.join(' ')} exited ${status}: ${err.slice(-500)}`);
  return { ms, maxRssMB: Number(rss) || 0, status, lines, uniqueIds: ids.size, limited };
}

function generate(dir: string, name: string, conns: number, profile: 'bulk' | 'small'): string {
  const file = join(dir, name);
  const r = spawnSync(process.execPath, [join(ROOT, 'test', 'bench', 'gen-pcap.mjs'), '--out', file, '--conns', String(conns), '--profile', profile, '--seed', '1'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`generator failed with status ${r.status}: ${r.stderr}`);
  rmSync(file + '.json', { force: true }); // the sidecar is not needed here
  return file;
}

/** Connections that make about `mb` MB in each profile (the generator's sizes on this machine). */
const connsFor = (profile: 'bulk' | 'small', mb: number) => Math.max(4, Math.round(profile === 'bulk' ? mb * 4 : mb * 488));

const mbps = (bytes: number, ms: number) => +(bytes / 1e6 / (ms / 1000)).toFixed(1);
const ratio = (a: number, b: number) => +(a / b).toFixed(3);

/** Best of `rounds` of each named measure, alternating; peak RSS is the highest seen. */
function bestOf(names: MeasureName[], file: string, rounds: number, log: (s: string) => void, extra?: () => Promise<string>): Promise<Record<string, Sample>> {
  return (async () => {
    const best: Record<string, Sample> = {};
    child('floor', file); // warm the page cache
    for (let i = 0; i < rounds; i++) {
      const line: string[] = [];
      for (const n of names) {
        const s = child(n, file);
        if (!best[n] || s.ms < best[n].ms) best[n] = { ...s, maxRssMB: Math.max(s.maxRssMB, best[n]?.maxRssMB ?? 0) };
        else best[n].maxRssMB = Math.max(best[n].maxRssMB, s.maxRssMB);
        line.push(`${n} ${s.ms.toFixed(0)} ms`);
      }
      if (extra) line.push(await extra());
      log(`  round ${i + 1}: ${line.join(', ')}`);
    }
    return best;
  })();
}

async function main(): Promise<void> {
  const dashdash = process.argv.indexOf('--weft');
  if (dashdash >= 0) {
    // the CLI in this process, reporting its peak RSS on fd 3 when it exits
    process.on('exit', () => writeSync(3, String(Math.round(process.resourceUsage().maxRSS / 1024))));
    process.argv.splice(dashdash, 1); // weft reads its arguments from argv[2] on
    require(join(ROOT, 'out', 'cli', 'weft.cjs'));
    return;
  }
  const { values } = parseArgs({
    options: {
      'size-mb': { type: 'string', default: '1024' },
      rounds: { type: 'string', default: '3' },
      profile: { type: 'string', default: 'all' },
      file: { type: 'string' },
      json: { type: 'boolean' },
      measure: { type: 'string' },
    },
  });
  if (values.measure) {
    const t0 = process.hrtime.bigint();
    const r = await measure(values.measure as MeasureName, values.file!);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    // r.ms, when given, times only the work measured (not building its input)
    process.stdout.write(JSON.stringify({ ms, ...r, maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }) + '\n');
    return;
  }
  const log = (s: string) => {
    if (!values.json) process.stdout.write(s + '\n');
  };
  const profiles = values.profile === 'all' ? ['bulk', 'small', 'synflood'] : [values.profile!];
  for (const p of profiles) if (!['bulk', 'small', 'synflood'].includes(p)) throw new Error(`--profile is bulk, small, synflood or all, not '${p}'`);
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-'));
  const result: Record<string, unknown> = {};
  try {
    const sizeMb = Number(values['size-mb']);
    const rounds = Number(values.rounds);
    if (profiles.includes('bulk')) result.bulk = await bulk(dir, values.file, sizeMb, rounds, log);
    if (profiles.includes('small')) result.small = await small(dir, sizeMb, rounds, log);
    if (profiles.includes('synflood')) result.synflood = await synflood(dir, log);
    if (values.json) process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `weft flows --json --threads N` for N = 1 … max(cores, 2), alternating, best of `rounds`: the
 * scaling curve, --threads 2 against --threads 1 (target ≥ 1.7x) and its peak RSS (target ≤ 1.5x).
 */
async function threadCurve(file: string, rounds: number, log: (s: string) => void) {
  const most = Math.max(2, availableParallelism());
  const best: CliRun[] = [];
  for (let i = 0; i < rounds; i++) {
    const line: string[] = [];
    for (let n = 1; n <= most; n++) {
      const f = await weft(['flows', '--json', '--threads', String(n), file]);
      const b = best[n - 1];
      if (!b || f.ms < b.ms) best[n - 1] = { ...f, maxRssMB: Math.max(f.maxRssMB, b?.maxRssMB ?? 0) };
      else b.maxRssMB = Math.max(b.maxRssMB, f.maxRssMB);
      line.push(`--threads ${n} ${f.ms.toFixed(0)} ms`);
    }
    log(`  threads round ${i + 1}: ${line.join(', ')}`);
  }
  const r = {
    cores: availableParallelism(),
    seconds: best.map((b) => +(b.ms / 1000).toFixed(3)),
    speedup: best.map((b) => ratio(best[0].ms, b.ms)),
    peakRssMB: best.map((b) => b.maxRssMB),
    twoOverOne: ratio(best[0].ms, best[1].ms),
    rssTwoOverOne: ratio(best[1].maxRssMB, best[0].maxRssMB),
  };
  log(`  weft flows --json --threads N   ${r.seconds.map((t, i) => `${i + 1}: ${t} s`).join(', ')} (${r.cores} cores)`);
  log(`    --threads 2 is ${r.twoOverOne}x --threads 1 (target ≥ 1.7), peak RSS ${r.peakRssMB[1]} MB = ${r.rssTwoOverOne}x (target ≤ 1.5); speed-up by N: ${r.speedup.join(', ')}`);
  return r;
}

/**
 * The app loading the file with its engine on N = 1 … max(cores, 2) worker threads, alternating,
 * best of `rounds`: N = 2 against N = 1 (target ≥ 1.7x) and the engine process's peak RSS
 * (target ≤ 1.5x). Returns the curve and the run at the default N (one per core).
 */
function appCurve(file: string, rounds: number, log: (s: string) => void) {
  const most = Math.max(2, availableParallelism());
  const best: (Sample & AppLoad)[] = [];
  for (let i = 0; i < rounds; i++) {
    const line: string[] = [];
    for (let n = 1; n <= most; n++) {
      const a = child('app', file, { WEFT_ENGINE_THREADS: String(n) }) as Sample & AppLoad;
      const b = best[n - 1];
      if (!b || a.ms < b.ms) best[n - 1] = { ...a, engineRssMB: Math.max(a.engineRssMB, b?.engineRssMB ?? 0) };
      else b.engineRssMB = Math.max(b.engineRssMB, a.engineRssMB);
      line.push(`${n} engine threads ${a.ms.toFixed(0)} ms`);
    }
    log(`  app round ${i + 1}: ${line.join(', ')}`);
  }
  const r = {
    seconds: best.map((b) => +(b.ms / 1000).toFixed(3)),
    speedup: best.map((b) => ratio(best[0].ms, b.ms)),
    engineRssMB: best.map((b) => b.engineRssMB),
    twoOverOne: ratio(best[0].ms, best[1].ms),
    rssTwoOverOne: ratio(best[1].engineRssMB, best[0].engineRssMB),
  };
  log(`  app load, N engine threads      ${r.seconds.map((t, i) => `${i + 1}: ${t} s`).join(', ')}`);
  log(`    2 threads are ${r.twoOverOne}x 1 thread (target ≥ 1.7), engine peak RSS ${r.engineRssMB[1]} MB = ${r.rssTwoOverOne}x (target ≤ 1.5)`);
  return { curve: r, app: best[Math.min(best.length, availableParallelism()) - 1] };
}

async function bulk(dir: string, given: string | undefined, sizeMb: number, rounds: number, log: (s: string) => void) {
  let file = given;
  if (!file) {
    log(`bulk: generating ~${sizeMb} MB (${connsFor('bulk', sizeMb)} connections) in ${dir} …`);
    file = generate(dir, 'bulk.pcap', connsFor('bulk', sizeMb), 'bulk');
  }
  const size = statSync(file).size;
  log(`bulk: generating a file a fifth of the size (memory must not depend on file size) …`);
  const fifth = generate(dir, 'bulk-fifth.pcap', connsFor('bulk', size / 5e6), 'bulk');
  let flowsBest: CliRun | null = null;
  const best = await bestOf(['floor', 'decode', 'engine', 'http', 'baseline'], file, rounds, log, async () => {
    const f = await weft(['flows', '--json', file!]);
    if (!flowsBest || f.ms < flowsBest.ms) flowsBest = { ...f, maxRssMB: Math.max(f.maxRssMB, flowsBest?.maxRssMB ?? 0) };
    return `flows ${f.ms.toFixed(0)} ms`;
  });
  const flows = flowsBest!;
  if (best.http.bytes !== best.engine.bytes) throw new Error(`http and engine disagree: ${best.http.bytes} vs ${best.engine.bytes} bytes`);
  if (best.engine.bytes !== best.baseline.bytes) throw new Error(`engine and baseline disagree: ${best.engine.bytes} vs ${best.baseline.bytes} bytes`);
  const resp = [0, 1, 2].map(() => [child('resp', file!), child('resp-scan', file!)]);
  const respBest = Math.min(...resp.map(([r]) => r.ms));
  const scanBest = Math.min(...resp.map(([, s]) => s.ms));
  const fifthEngine = child('engine', fifth);
  const fifthFlows = await weft(['flows', '--json', fifth]);
  const threads = await threadCurve(file, rounds, log);
  const { curve: appThreads, app } = appCurve(file, rounds, log);
  const exp = child('export', file);
  const expFifth = child('export', fifth);
  const alloc = child('alloc', file);
  const r = {
    file: given ?? '(generated)',
    bytes: size,
    packets: best.floor.packets,
    reassembledBytes: best.engine.bytes,
    httpMessages: best.http.messages,
    MBps: { floor: mbps(size, best.floor.ms), decode: mbps(size, best.decode.ms), engine: mbps(size, best.engine.ms), http: mbps(size, best.http.ms), baseline: mbps(size, best.baseline.ms), flows: mbps(size, flows.ms) },
    ratios: {
      decodeOverFloor: ratio(best.floor.ms, best.decode.ms),
      engineOverFloor: ratio(best.floor.ms, best.engine.ms),
      engineOverBaseline: ratio(best.baseline.ms, best.engine.ms),
      httpOverEngine: ratio(best.engine.ms, best.http.ms),
      flowsOverFloor: ratio(best.floor.ms, flows.ms),
      appOverFlows: ratio(app.ms, flows.ms),
      respOverLineScan: ratio(scanBest, respBest),
    },
    app: { ms: Math.round(app.ms), firstFlowsMs: Math.round(app.firstFlowsMs), sortedQueryMs: Math.round(app.sortedQueryMs), engineRssMB: app.engineRssMB },
    export: { MBps: mbps(size, exp.ms), flows: exp.packets, bytesWritten: exp.bytes, peakRssMB: exp.maxRssMB, peakRssMBOnAFifth: expFifth.maxRssMB },
    resp: { messages: resp[0][0].messages, MBps: +(resp[0][0].bytes / 1e6 / (respBest / 1000)).toFixed(1), messagesPerSecond: Math.round((resp[0][0].messages! / respBest) * 1000) },
    engineBytesAllocatedPerInOrderPacket: +alloc.bytes.toFixed(3),
    threads,
    appThreads,
    peakRssMB: { engine: best.engine.maxRssMB, engineOnAFifth: fifthEngine.maxRssMB, flows: flows.maxRssMB, flowsOnAFifth: fifthFlows.maxRssMB, baseline: best.baseline.maxRssMB, decode: best.decode.maxRssMB },
  };
  log(`\nbulk: ${(size / 1e6).toFixed(0)} MB, ${r.packets} packets, ${r.reassembledBytes} bytes reassembled`);
  log(`  floor (record-header walk)      ${r.MBps.floor} MB/s`);
  log(`  read + decode                   ${r.MBps.decode} MB/s   ${r.ratios.decodeOverFloor} of the floor (target ≥ 0.60)`);
  log(`  engine (read+decode+reassemble) ${r.MBps.engine} MB/s   ${r.ratios.engineOverFloor} of the floor (target ≥ 0.30), ${r.ratios.engineOverBaseline}x the baseline (target ≥ 3)`);
  log(`  engine + HTTP parsing           ${r.MBps.http} MB/s   ${r.ratios.httpOverEngine} of the engine's throughput, ${r.httpMessages} messages`);
  log(`  Redis, message-heavy            ${r.resp.MBps} MB/s   ${r.ratios.respOverLineScan} of a line scan, ${r.resp.messagesPerSecond} messages/s (${r.resp.messages} messages)`);
  log(`  weft export raw,pcapng,jsonl    ${r.export.MBps} MB/s of input (${r.export.flows} flows, ${(r.export.bytesWritten / 1e6).toFixed(0)} MB written), peak RSS ${r.export.peakRssMB} MB (${r.export.peakRssMBOnAFifth} MB on a fifth)`);
  log(`  baseline reassembler            ${r.MBps.baseline} MB/s`);
  log(`  weft flows --json end to end    ${r.MBps.flows} MB/s   ${r.ratios.flowsOverFloor} of the floor; peak RSS ${r.peakRssMB.flows} MB (${r.peakRssMB.flowsOnAFifth} MB on a fifth)`);
  log(`  app (weft serve's engine)       loads in ${(r.app.ms / 1000).toFixed(2)} s = ${r.ratios.appOverFlows}x weft flows; engine peak RSS ${r.app.engineRssMB} MB`);
  log(`  engine heap allocation per in-order packet: ${r.engineBytesAllocatedPerInOrderPacket} bytes (target 0)`);
  log(`  peak RSS: engine ${r.peakRssMB.engine} MB on the file, ${r.peakRssMB.engineOnAFifth} MB on a fifth of it (target < 150 MB); baseline ${r.peakRssMB.baseline} MB`);
  return r;
}

async function small(dir: string, sizeMb: number, rounds: number, log: (s: string) => void) {
  const conns = connsFor('small', sizeMb);
  log(`\nsmall: generating ~${sizeMb} MB (${conns} connections of one request each) …`);
  const file = generate(dir, 'small.pcap', conns, 'small');
  const fifth = generate(dir, 'small-fifth.pcap', Math.round(conns / 5), 'small');
  const size = statSync(file).size;
  let flowsBest: CliRun | null = null;
  const best = await bestOf(['floor', 'engine'], file, rounds, log, async () => {
    const f = await weft(['flows', '--json', file]);
    if (!flowsBest || f.ms < flowsBest.ms) flowsBest = { ...f, maxRssMB: Math.max(f.maxRssMB, flowsBest?.maxRssMB ?? 0) };
    return `flows ${f.ms.toFixed(0)} ms`;
  });
  const flows = flowsBest!;
  const threads = await threadCurve(file, rounds, log);
  const { curve: appThreads, app } = appCurve(file, rounds, log);
  const fifthEngine = child('engine', fifth);
  const fifthFlows = await weft(['flows', '--json', fifth]);
  const r = {
    bytes: size,
    connections: conns,
    packets: best.floor.packets,
    seconds: { engine: +(best.engine.ms / 1000).toFixed(3), flows: +(flows.ms / 1000).toFixed(3), app: +(app.ms / 1000).toFixed(3) },
    ratios: { engineOverFloor: ratio(best.floor.ms, best.engine.ms), appOverFlows: ratio(app.ms, flows.ms) },
    app: { firstFlowsMs: Math.round(app.firstFlowsMs), sortedQueryMs: Math.round(app.sortedQueryMs), engineRssMB: app.engineRssMB },
    peakRssMB: { engine: best.engine.maxRssMB, engineOnAFifth: fifthEngine.maxRssMB, flows: flows.maxRssMB, flowsOnAFifth: fifthFlows.maxRssMB },
    threads,
    appThreads,
  };
  log(`small: ${(size / 1e6).toFixed(0)} MB, ${conns} connections, ${r.packets} packets`);
  log(`  engine                          ${r.seconds.engine} s   ${r.ratios.engineOverFloor} of the floor; peak RSS ${r.peakRssMB.engine} MB (${r.peakRssMB.engineOnAFifth} MB on a fifth; target ≤ 250)`);
  log(`  weft flows --json               ${r.seconds.flows} s   peak RSS ${r.peakRssMB.flows} MB (${r.peakRssMB.flowsOnAFifth} MB on a fifth; target ≤ 300)`);
  log(`  app (weft serve's engine)       ${r.seconds.app} s = ${r.ratios.appOverFlows}x weft flows (target ≤ 2); first flows after ${r.app.firstFlowsMs} ms; engine peak RSS ${r.app.engineRssMB} MB (target ≤ 700)`);
  log(`  a query of all rows sorted by bytes: ${r.app.sortedQueryMs} ms (target < 300)`);
  log(`  gopacket beside these: ../shared/bench/peers/run.sh FILE (engine ≤ 0.83x, flows ≤ 1.5x gopacket tcpassembly)`);
  return r;
}

async function synflood(dir: string, log: (s: string) => void) {
  const n = 1_000_000;
  log(`\nsynflood: writing ${n} SYNs to distinct ports …`);
  const file = join(dir, 'synflood.pcap');
  writeSynFlood(file, n);
  const f = await weft(['flows', '--json', file], true);
  const ok = f.status === 0 && f.lines === n && f.uniqueIds === n;
  const r = { connections: n, bytes: statSync(file).size, seconds: +(f.ms / 1000).toFixed(3), printed: f.lines, uniqueIds: f.uniqueIds, closedByLimit: f.limited, peakRssMB: f.maxRssMB, everyConnectionOnce: ok };
  log(`synflood: ${(r.bytes / 1e6).toFixed(0)} MB, ${n} connections: weft flows --json exit ${f.status} in ${r.seconds} s, ${f.lines} printed (${f.uniqueIds} distinct ids, ${f.limited} closed by the limit), peak RSS ${f.maxRssMB} MB (target ≤ 400)`);
  if (!ok) throw new Error('synflood: not every connection was printed exactly once');
  return r;
}

main().catch((e) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
