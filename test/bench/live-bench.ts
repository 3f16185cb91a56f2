/**
 * `npm run bench:live` (root): live capture at increasing packet rates on a private loopback
 * (unshare --net, so the loopback's counters count only our traffic). A generator process sends
 * small TCP writes at a target rate for 2 s while this process captures with cap and runs the
 * engine (decode + reassemble + flow records). For each rate it reports the packets the kernel
 * saw on lo, the packets captured, the difference (libpcap drops: cap exposes no pcap_stats, the
 * loopback counters do it), the engine backlog (always 0: packets are processed inside cap's
 * callback), and the CPU used by the capturing process. The highest rate with zero drops is the
 * result.
 */
import { fork, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { FlowPipeline } from '../../main/service/pipeline/flow-recorder';
import { LiveCapture } from '../../main/sources/live-source';

const RATES = [2_000, 5_000, 10_000, 20_000, 40_000, 80_000, 160_000];
const SECONDS = 2;
/** Packets received on this network namespace's loopback (/proc/self/net/dev follows the netns; /sys does not). */
const rx = () => {
  const line = readFileSync('/proc/self/net/dev', 'utf8')
    .split('\n')
    .find((l) => l.trim().startsWith('lo:'))!;
  return Number(line.split(':')[1].trim().split(/\s+/)[1]);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function generator(): Promise<void> {
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
  process.send!({ port });
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
    process.send!({ done: true });
  });
}

async function inner(): Promise<void> {
  const gen = fork(__filename, ['--gen'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const { port } = await new Promise<{ port: number }>((r) => gen.once('message', (m) => r(m as { port: number })));
  const results = [];
  for (const rate of RATES) {
    let flows = 0;
    const pipe = new FlowPipeline(() => flows++, { clock: 'wall' });
    const lc = new LiveCapture({ device: 'lo', filter: `tcp port ${port}` });
    lc.start(pipe);
    await sleep(200);
    const rx0 = rx();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    gen.send({ rate });
    await new Promise((r) => gen.once('message', r));
    await sleep(300); // let the last packets arrive
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const seen = rx() - rx0;
    lc.stop();
    pipe.end();
    const captured = lc.stats.received;
    results.push({
      targetPps: rate,
      packetsOnLo: seen,
      packetsPerSecond: Math.round(seen / SECONDS),
      captured,
      dropped: Math.max(0, seen - captured),
      engineBacklog: 0,
      cpuPercent: Math.round(((cpu.user + cpu.system) / 1e6 / wall) * 100),
    });
  }
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
  const rows = JSON.parse(r.stdout) as { targetPps: number; packetsPerSecond: number; captured: number; packetsOnLo: number; dropped: number; cpuPercent: number }[];
  if (process.argv.includes('--json')) {
    process.stdout.write(JSON.stringify(rows) + '\n');
    return;
  }
  process.stdout.write(`packets/s on lo   packets on lo (${SECONDS} s)   captured   dropped   engine backlog   CPU of the capturing process\n`);
  for (const x of rows)
    process.stdout.write(`${String(x.packetsPerSecond).padStart(15)} ${String(x.packetsOnLo).padStart(21)} ${String(x.captured).padStart(10)} ${String(x.dropped).padStart(9)} ${'0'.padStart(16)}   ${x.cpuPercent}%\n`);
  const ok = rows.filter((x) => x.dropped === 0);
  const best = ok.reduce((a, b) => (b.packetsPerSecond > a.packetsPerSecond ? b : a), ok[0]);
  process.stdout.write(best ? `highest rate with zero drops: ${best.packetsPerSecond} packets/s at ${best.cpuPercent}% CPU\n` : 'drops at every rate\n');
}

if (process.argv.includes('--gen')) void generator();
else if (process.argv.includes('--inner')) void inner();
else outer();
