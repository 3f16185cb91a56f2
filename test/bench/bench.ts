/**
 * `npm run bench`: generates a large realistic capture (test/bench/gen-pcap.mjs, a copy of the
 * shared generator) in a temporary folder, measures in ONE run:
 *   floor        walking the pcap record headers only (floor.ts)
 *   read+decode  CaptureReader + PacketDecoder over every packet (TCP payload bytes summed)
 * and reports throughput of each and the ratio read+decode / floor (target ≥ 0.60).
 * Each measurement is repeated (--rounds, default 5) alternating, and the best round counts, so
 * page-cache warm-up and background noise hit both equally. The folder is deleted afterwards.
 *
 * Flags: --size-mb N (default 1024), --rounds N, --file PATH (use an existing pcap, keep it),
 * --json (print the result object only).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PacketDecoder, Transport } from '../../main/engine/decode';
import { readCaptureFile } from '../../main/sources/capture-source';
import { walkRecordHeaders } from './floor';

async function readDecode(path: string): Promise<{ packets: number; tcpPayload: number }> {
  const dec = new PacketDecoder();
  let tcpPayload = 0;
  const r = await readCaptureFile(path, {
    packet(p) {
      const d = dec.decode(p);
      if (d.transport === Transport.TCP) tcpPayload += d.payloadCaptured;
    },
  });
  if (r.error) throw r.error;
  return { packets: r.packets, tcpPayload };
}

async function time<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, value };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'size-mb': { type: 'string', default: '1024' },
      rounds: { type: 'string', default: '5' },
      file: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const log = (s: string) => {
    if (!values.json) process.stdout.write(s + '\n');
  };
  let dir: string | null = null;
  let file = values.file;
  if (!file) {
    dir = mkdtempSync(join(tmpdir(), 'weft-bench-'));
    file = join(dir, 'bench.pcap');
    const conns = Math.max(4, Math.round(Number(values['size-mb']) * 4));
    log(`generating ~${values['size-mb']} MB (${conns} connections) in ${dir} …`);
    const gen = join(__dirname, '..', '..', 'test', 'bench', 'gen-pcap.mjs');
    const r = spawnSync(process.execPath, [gen, '--out', file, '--conns', String(conns), '--profile', 'bulk', '--seed', '1'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (r.status !== 0) throw new Error(`generator failed with status ${r.status}`);
  }
  try {
    const size = statSync(file).size;
    const rounds = Number(values.rounds);
    const best = { floor: Infinity, decode: Infinity };
    let packets = 0;
    let tcpPayload = 0;
    await walkRecordHeaders(file); // warm the page cache
    for (let i = 0; i < rounds; i++) {
      const f = await time(() => walkRecordHeaders(file!));
      const d = await time(() => readDecode(file!));
      if (f.value.packets !== d.value.packets) throw new Error(`packet counts differ: ${f.value.packets} vs ${d.value.packets}`);
      packets = d.value.packets;
      tcpPayload = d.value.tcpPayload;
      best.floor = Math.min(best.floor, f.ms);
      best.decode = Math.min(best.decode, d.ms);
      log(`round ${i + 1}: floor ${f.ms.toFixed(0)} ms, read+decode ${d.ms.toFixed(0)} ms`);
    }
    const mbps = (ms: number) => size / 1e6 / (ms / 1000);
    const result = {
      file: values.file ?? '(generated)',
      bytes: size,
      packets,
      tcpPayloadBytes: tcpPayload,
      floorMBps: +mbps(best.floor).toFixed(1),
      readDecodeMBps: +mbps(best.decode).toFixed(1),
      readDecodeOverFloor: +(best.floor / best.decode).toFixed(3),
      peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
      target: { readDecodeOverFloor: 0.6 },
    };
    if (values.json) process.stdout.write(JSON.stringify(result) + '\n');
    else {
      log(`\n${(size / 1e6).toFixed(0)} MB, ${packets} packets`);
      log(`floor (record-header walk)  ${result.floorMBps} MB/s`);
      log(`read + decode               ${result.readDecodeMBps} MB/s`);
      log(`ratio read+decode / floor   ${result.readDecodeOverFloor} (target ≥ 0.60)`);
      log(`peak RSS of this process    ${result.peakRssMB} MB (the file is streamed, never loaded whole)`);
    }
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
