/**
 * `npm run bench`: generates a large realistic capture (test/bench/gen-pcap.mjs, a copy of the
 * shared generator) in a temporary folder and measures, in ONE run, each in its own process (so
 * each has its own peak RSS), alternating, best of --rounds:
 *
 *   floor        walking the pcap record headers only (floor.ts)
 *   decode       read + decode every packet
 *   engine       read + decode + reassemble, delivering to a consumer that only counts bytes
 *   http         the same, and every stream also parsed by the HTTP/1.x plugin (gaps included)
 *   baseline     read + decode + a straightforward reassembler (baseline.ts)
 *   flows        `weft flows --json` end to end (the real CLI, sha256 per direction, output to /dev/null)
 *   alloc        heap bytes the engine allocates per in-order packet (measures.ts)
 *   export       `weft export --format raw,pcapng,jsonl` of every flow (two passes over the file),
 *                on the file and on a fifth of it: peak RSS must not grow with the file
 *   resp         message-heavy parsing: 400,000 pipelined Redis commands and replies (in memory),
 *                against resp-scan, finding the same bytes' line ends and nothing else
 *
 * It reports throughputs and the ratios the issues set as targets, and the engine's peak RSS on
 * the large file and on one a fifth of its size (memory must not grow with the file). The folder
 * is deleted afterwards.
 *
 * Flags: --size-mb N (default 1024), --rounds N (default 3), --file PATH (use an existing pcap),
 * --json (print the result object only). Internal: --measure NAME --file F (one measurement).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { measure, type MeasureName } from './measures';

const ROOT = join(__dirname, '..', '..');

interface Sample {
  ms: number;
  bytes: number;
  packets: number;
  maxRssMB: number;
  messages?: number;
}

function child(name: MeasureName, file: string): Sample {
  const flags = name === 'alloc' ? ['--expose-gc'] : [];
  const r = spawnSync(process.execPath, [...flags, __filename, '--measure', name, '--file', file], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`measure ${name} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

function flowsEndToEnd(file: string): { ms: number } {
  const devnull = openSync('/dev/null', 'w');
  try {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'weft.cjs'), 'flows', '--json', file], { stdio: ['ignore', devnull, 'pipe'] });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`weft flows failed: ${r.stderr}`);
    return { ms };
  } finally {
    closeSync(devnull);
  }
}

function generate(dir: string, name: string, sizeMb: number): string {
  const file = join(dir, name);
  const conns = Math.max(4, Math.round(sizeMb * 4));
  const r = spawnSync(process.execPath, [join(ROOT, 'test', 'bench', 'gen-pcap.mjs'), '--out', file, '--conns', String(conns), '--profile', 'bulk', '--seed', '1'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`generator failed with status ${r.status}`);
  return file;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'size-mb': { type: 'string', default: '1024' },
      rounds: { type: 'string', default: '3' },
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
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-'));
  try {
    const sizeMb = Number(values['size-mb']);
    let file = values.file;
    if (!file) {
      log(`generating ~${sizeMb} MB in ${dir} …`);
      file = generate(dir, 'bench.pcap', sizeMb);
    }
    log(`generating a file a fifth of the size (memory must not depend on file size) …`);
    const small = generate(dir, 'small.pcap', Math.max(8, Math.round(statSync(file).size / 5e6)));
    const size = statSync(file).size;
    const rounds = Number(values.rounds);
    const names: MeasureName[] = ['floor', 'decode', 'engine', 'http', 'baseline'];
    const best: Record<string, Sample> = {};
    child('floor', file); // warm the page cache
    let flowsMs = Infinity;
    for (let i = 0; i < rounds; i++) {
      const line: string[] = [];
      for (const n of names) {
        const s = child(n, file);
        if (!best[n] || s.ms < best[n].ms) best[n] = { ...s, maxRssMB: Math.max(s.maxRssMB, best[n]?.maxRssMB ?? 0) };
        else best[n].maxRssMB = Math.max(best[n].maxRssMB, s.maxRssMB);
        line.push(`${n} ${s.ms.toFixed(0)} ms`);
      }
      const f = flowsEndToEnd(file);
      flowsMs = Math.min(flowsMs, f.ms);
      line.push(`flows ${f.ms.toFixed(0)} ms`);
      log(`round ${i + 1}: ${line.join(', ')}`);
    }
    if (best.http.bytes !== best.engine.bytes) throw new Error(`http and engine disagree: ${best.http.bytes} vs ${best.engine.bytes} bytes`);
    if (best.engine.bytes !== best.baseline.bytes) throw new Error(`engine and baseline disagree: ${best.engine.bytes} vs ${best.baseline.bytes} bytes`);
    const resp = [0, 1, 2].map(() => [child('resp', file), child('resp-scan', file)]);
    const respBest = Math.min(...resp.map(([r]) => r.ms));
    const scanBest = Math.min(...resp.map(([, s]) => s.ms));
    const smallEngine = child('engine', small);
    const exp = child('export', file);
    const expSmall = child('export', small);
    const alloc = child('alloc', file);
    const mbps = (ms: number) => +(size / 1e6 / (ms / 1000)).toFixed(1);
    const ratio = (a: number, b: number) => +(a / b).toFixed(3);
    const result = {
      file: values.file ?? '(generated)',
      bytes: size,
      packets: best.floor.packets,
      reassembledBytes: best.engine.bytes,
      httpMessages: best.http.messages,
      MBps: { floor: mbps(best.floor.ms), decode: mbps(best.decode.ms), engine: mbps(best.engine.ms), http: mbps(best.http.ms), baseline: mbps(best.baseline.ms), flows: mbps(flowsMs) },
      ratios: {
        decodeOverFloor: ratio(best.floor.ms, best.decode.ms),
        engineOverFloor: ratio(best.floor.ms, best.engine.ms),
        engineOverBaseline: ratio(best.baseline.ms, best.engine.ms),
        httpOverEngine: ratio(best.engine.ms, best.http.ms),
        flowsOverFloor: ratio(best.floor.ms, flowsMs),
        respOverLineScan: ratio(scanBest, respBest),
      },
      export: { MBps: mbps(exp.ms), flows: exp.packets, bytesWritten: exp.bytes, peakRssMB: exp.maxRssMB, peakRssMBOnAFifth: expSmall.maxRssMB },
      resp: { messages: resp[0][0].messages, MBps: +(resp[0][0].bytes / 1e6 / (respBest / 1000)).toFixed(1), messagesPerSecond: Math.round((resp[0][0].messages! / respBest) * 1000) },
      engineBytesAllocatedPerInOrderPacket: +alloc.bytes.toFixed(3),
      peakRssMB: { engine: best.engine.maxRssMB, engineOnAFifth: smallEngine.maxRssMB, baseline: best.baseline.maxRssMB, decode: best.decode.maxRssMB },
      targets: { decodeOverFloor: 0.6, engineOverFloor: 0.3, engineOverBaseline: 3, engineRssMB: 150 },
    };
    if (values.json) {
      process.stdout.write(JSON.stringify(result) + '\n');
      return;
    }
    log(`\n${(size / 1e6).toFixed(0)} MB, ${result.packets} packets, ${result.reassembledBytes} bytes reassembled`);
    log(`floor (record-header walk)     ${result.MBps.floor} MB/s`);
    log(`read + decode                  ${result.MBps.decode} MB/s   ${result.ratios.decodeOverFloor} of the floor (target ≥ 0.60)`);
    log(`engine (read+decode+reassemble) ${result.MBps.engine} MB/s   ${result.ratios.engineOverFloor} of the floor (target ≥ 0.30), ${result.ratios.engineOverBaseline}x the baseline (target ≥ 3)`);
    log(`engine + HTTP parsing          ${result.MBps.http} MB/s   ${result.ratios.httpOverEngine} of the engine's throughput, ${result.httpMessages} messages`);
    log(`Redis, message-heavy           ${result.resp.MBps} MB/s   ${result.ratios.respOverLineScan} of a line scan, ${result.resp.messagesPerSecond} messages/s (${result.resp.messages} messages)`);
    log(`weft export raw,pcapng,jsonl   ${result.export.MBps} MB/s of input (${result.export.flows} flows, ${(result.export.bytesWritten / 1e6).toFixed(0)} MB written), peak RSS ${result.export.peakRssMB} MB (${result.export.peakRssMBOnAFifth} MB on a fifth)`);
    log(`baseline reassembler           ${result.MBps.baseline} MB/s`);
    log(`weft flows --json end to end   ${result.MBps.flows} MB/s   ${result.ratios.flowsOverFloor} of the floor`);
    log(`engine heap allocation per in-order packet: ${result.engineBytesAllocatedPerInOrderPacket} bytes (target 0)`);
    log(`peak RSS: engine ${result.peakRssMB.engine} MB on the file, ${result.peakRssMB.engineOnAFifth} MB on a fifth of it (target < 150 MB); baseline ${result.peakRssMB.baseline} MB`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
