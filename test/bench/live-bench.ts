/**
 * `npm run bench:live` (root): live capture at increasing packet rates on a private loopback
 * (unshare --net, so the loopback's counters count only our traffic), both ways Weft captures:
 * in-process (Weft's libpcap binding) and through dumpcap. A generator process sends small TCP
 * writes at a target rate for 2 s while this process captures and runs the engine (decode +
 * reassemble + flow records). For each rate: the packets the kernel saw on lo, the packets
 * captured, those missing (lo's count minus ours), the kernel's own drop counter (pcap_stats:
 * read while capturing in-process, reported by dumpcap when it stops), and the CPU used by
 * Weft's process and by dumpcap. The highest rate with zero drops is the result, per way.
 */
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { FlowPipeline } from '../../main/service/pipeline/flow-recorder';
import { openLive } from '../../main/sources/live';
import type { CaptureVia } from '../../main/sources/live-source';

const RATES = [5_000, 10_000, 20_000, 30_000, 40_000, 60_000, 80_000, 120_000];
const SECONDS = 2;
/** Packets received on this network namespace's loopback (/proc/self/net/dev follows the netns; /sys does not). */
const rx = () => {
  const line = readFileSync('/proc/self/net/dev', 'utf8')
    .split('\n')
    .find((l) => l.trim().startsWith('lo:'))!;
  return Number(line.split(':')[1].trim().split(/\s+/)[1]);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds a process has used (utime + stime from /proc, in clock ticks of 1/100 s). */
function cpuOf(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / 100;
  } catch {
    return 0;
  }
}

/** Sends to the parent only while the channel is open: the parent may be gone (a run cut short). */
function tell(m: unknown): void {
  if (process.connected) process.send!(m, (e) => e && process.exit(0));
}

async function generator(): Promise<void> {
  process.on('disconnect', () => process.exit(0));
  // a sink server and 8 client connections; each tick writes rate×tick/8 small messages per socket
  const srv = createServer((s) => s.resume());
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  const socks: Socket[] = await Promise.all(
    Array.from({ length: 8 }, () => new Promise<Socket>((r) => {
      const c = connect(port, '127.0.0.1', () => r(c));
      c.setNoDelay(true);
    })),
  );
  tell({ port });
  process.on('message', async (m: { rate: number }) => {
    const msg = Buffer.alloc(64, 0x61);
    const tickMs = 5;
    const perTick = (m.rate / 2) * (tickMs / 1000); // a write makes about two packets (data + ACK)
    const end = Date.now() + SECONDS * 1000;
    let owed = 0;
    while (Date.now() < end) {
      owed += perTick;
      while (owed >= 1) {
        socks[Math.floor(Math.random() * socks.length)].write(msg);
        owed--;
      }
      await sleep(tickMs);
    }
    tell({ done: true });
  });
}

interface Row {
  via: CaptureVia;
  targetPps: number;
  packetsOnLo: number;
  packetsPerSecond: number;
  captured: number;
  missing: number;
  kernelDropped: number | null;
  cpuPercent: number;
  dumpcapCpuPercent: number | null;
}

async function measure(via: CaptureVia, gen: ChildProcess, port: number, rate: number): Promise<Row> {
  let flows = 0;
  const pipe = new FlowPipeline(() => flows++, { clock: 'wall' });
  const lc = openLive({ device: 'lo', filter: `tcp port ${port}` }, via);
  await lc.start(pipe);
  await sleep(200);
  const helper = (lc as { pid?: number }).pid;
  const rx0 = rx();
  const cpu0 = process.cpuUsage();
  const helper0 = cpuOf(helper);
  const t0 = performance.now();
  gen.send({ rate });
  await new Promise((r) => gen.once('message', r));
  await sleep(300); // let the last packets arrive
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const helperCpu = cpuOf(helper) - helper0;
  const seen = rx() - rx0;
  await lc.stop();
  pipe.end();
  const captured = lc.stats.received;
  return {
    via,
    targetPps: rate,
    packetsOnLo: seen,
    packetsPerSecond: Math.round(seen / SECONDS),
    captured,
    missing: Math.max(0, seen - captured),
    kernelDropped: lc.stats.kernelDropped ?? null,
    cpuPercent: Math.round(((cpu.user + cpu.system) / 1e6 / wall) * 100),
    dumpcapCpuPercent: helper ? Math.round((helperCpu / wall) * 100) : null,
  };
}

async function inner(): Promise<void> {
  const gen = fork(__filename, ['--gen'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  gen.on('error', () => {}); // a message to a generator that is going away: its exit is what counts
  const { port } = await new Promise<{ port: number }>((r) => gen.once('message', (m) => r(m as { port: number })));
  const results: Row[] = [];
  for (const via of ['libpcap', 'dumpcap'] as const) for (const rate of RATES) results.push(await measure(via, gen, port, rate));
  gen.disconnect();
  gen.kill();
  process.stdout.write(JSON.stringify(results) + '\n', () => process.exit(0));
}

function outer(): void {
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench:live: needs root (a private network namespace and libpcap)\n');
    process.exitCode = 2;
    return;
  }
  const r = spawnSync('unshare', ['--net', 'sh', '-c', `ip link set lo up && exec "${process.execPath}" "${__filename}" --inner`], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`live bench failed: ${r.stderr}`);
  const rows = JSON.parse(r.stdout) as Row[];
  if (process.argv.includes('--json')) {
    process.stdout.write(JSON.stringify(rows) + '\n');
    return;
  }
  for (const via of ['libpcap', 'dumpcap'] as const) {
    const mine = rows.filter((x) => x.via === via);
    process.stdout.write(`\n${via === 'libpcap' ? 'in-process (libpcap binding)' : 'through dumpcap'}\n`);
    process.stdout.write(`packets/s on lo   packets on lo (${SECONDS} s)   captured   missing   kernel's drop counter   CPU of Weft${via === 'dumpcap' ? '   CPU of dumpcap' : ''}\n`);
    for (const x of mine)
      process.stdout.write(
        `${String(x.packetsPerSecond).padStart(15)} ${String(x.packetsOnLo).padStart(21)} ${String(x.captured).padStart(10)} ${String(x.missing).padStart(9)} ${String(x.kernelDropped ?? 'unknown').padStart(23)}   ${String(x.cpuPercent).padStart(10)}%${x.dumpcapCpuPercent !== null ? `   ${String(x.dumpcapCpuPercent).padStart(13)}%` : ''}\n`,
      );
    const ok = mine.filter((x) => x.missing === 0 && (x.kernelDropped ?? 0) === 0);
    const best = ok.reduce<Row | undefined>((a, b) => (!a || b.packetsPerSecond > a.packetsPerSecond ? b : a), undefined);
    process.stdout.write(best ? `highest rate with zero drops: ${best.packetsPerSecond} packets/s\n` : 'drops at every rate\n');
  }
}

if (process.argv.includes('--gen')) void generator();
else if (process.argv.includes('--inner')) void inner();
else outer();
