/**
 * `npm run bench:ui`: the renderer with 100,000 flows, and a stream pane over a 100 MB direction.
 * Generates a capture of 100,000 small connections in a temporary folder, loads it through weft
 * serve, opens the app in headless Chromium and scrolls the flows table — a fling through all of
 * it and back, and a steady scroll — measuring every frame (requestAnimationFrame deltas) and the
 * page's JS heap before and after. Then it loads one connection whose client sends 100 MB of text
 * lines, opens it, and scrolls its stream pane the same way (fling end to end and back, steady),
 * checking that the last byte is reached. Reports median, 99th-percentile and worst frame times,
 * frames over 50 ms, and the heap growth. The folder is deleted afterwards.
 *
 * Flags: --conns N (default 100000), --stream-mb N (default 100), --json.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { launchChromium } from '../helpers/app-browser';
import { startServer } from '../../main/server/serve';
import { Session } from '../../main/service/session/session';
import { ChildProcessHost } from '../../main/service/hosts/child-host';
import { PcapWriter } from '../../main/engine/formats';
import { ether, ipv4, tcp } from '../helpers/packet-builder';
import type { Page } from 'playwright-core';

/**
 * One connection: the client sends `mb` MB of text lines (of 20 to 140 characters) in 1,400-byte
 * segments, the server answers OK. Returns the client's byte count.
 */
function writeBigStream(file: string, mb: number): number {
  const fd = openSync(file, 'w');
  const w = new PcapWriter((c) => void writeSync(fd, c), { linkType: 1 });
  const c = [10, 7, 7, 1];
  const sv = [10, 7, 7, 2];
  let t = 0;
  const send = (fromClient: boolean, seq: number, ack: number, flags: number, data = new Uint8Array(0)) =>
    w.packet(1_700_001_000 + Math.floor(t / 1e9), t % 1e9, ether(0x0800, ipv4({ src: fromClient ? c : sv, dst: fromClient ? sv : c }, tcp({ sport: fromClient ? 47000 : 9090, dport: fromClient ? 9090 : 47000, seq, ack, flags }, data))), undefined);
  const size = mb * 1_000_000;
  const body = Buffer.alloc(size);
  let o = 0;
  for (let n = 0; o < size; n++) {
    const line = `${n.toString().padStart(9, '0')} ${'the quick brown fox jumps over the lazy dog '.repeat(1 + (n % 3)).slice(0, 10 + ((n * 37) % 120))}\n`;
    o += body.write(line, o);
  }
  send(true, 100, 0, 0x02);
  send(false, 900, 101, 0x12);
  send(true, 101, 901, 0x10);
  for (let p = 0; p < size; p += 1400) {
    t += 10_000;
    send(true, 101 + p, 901, 0x18, body.subarray(p, Math.min(size, p + 1400)));
  }
  send(false, 901, (101 + size) >>> 0, 0x18, new TextEncoder().encode('OK\n'));
  send(true, (101 + size) >>> 0, 904, 0x11);
  send(false, 904, (102 + size) >>> 0, 0x11);
  closeSync(fd);
  return size;
}

/**
 * Scrolls element `sel` from top to end and back in `steps` frames each way (or over `px` pixels),
 * recording every frame's time and whether the view was filled: at least 80 % of the rows that fit
 * (`rowH` high) drawn (`rowSel`) — a virtual list that scrolls fast but shows blank space fails this.
 */
function scrollFrames(page: Page, sel: string, steps: number, px: number, rowSel: string, rowH: number): Promise<{ deltas: number[]; filled: number }> {
  return page.evaluate(
    async ([sel, steps, px, rowSel, rowH]) => {
      const vp = document.querySelector(sel as string) as HTMLElement;
      const deltas: number[] = [];
      let filled = 0;
      const max = Math.min(vp.scrollHeight - vp.clientHeight, px as number);
      const want = Math.floor(vp.clientHeight / (rowH as number)) * 0.8;
      let last = performance.now();
      for (let i = 0; i <= 2 * (steps as number); i++) {
        const f = i <= (steps as number) ? i / (steps as number) : 2 - i / (steps as number);
        vp.scrollTop = f * max;
        vp.dispatchEvent(new Event('scroll'));
        await new Promise((r) => requestAnimationFrame(r));
        const now = performance.now();
        deltas.push(now - last);
        last = now;
        if (vp.querySelectorAll(rowSel as string).length >= want) filled++;
      }
      return { deltas, filled: filled / deltas.length };
    },
    [sel, steps, px, rowSel, rowH] as [string, number, number, string, number],
  );
}

const ROOT = join(__dirname, '..', '..');

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { conns: { type: 'string', default: '100000' }, 'stream-mb': { type: 'string', default: '100' }, json: { type: 'boolean' } } });
  const log = (s: string) => !values.json && process.stdout.write(s + '\n');
  const dir = mkdtempSync(join(tmpdir(), 'weft-uibench-'));
  const session = new Session(new ChildProcessHost({ spoolParent: dir }));
  const srv = await startServer({ session, rendererDir: join(ROOT, 'out', 'renderer'), port: 0 });
  const browser = await launchChromium();
  try {
    const file = join(dir, 'many.pcap');
    log(`generating ${values.conns} connections …`);
    const g = spawnSync(process.execPath, [join(ROOT, 'test', 'bench', 'gen-pcap.mjs'), '--out', file, '--conns', values.conns!, '--profile', 'small', '--seed', '2'], { stdio: 'ignore' });
    if (g.status !== 0) throw new Error('generator failed');
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(srv.url);
    const t0 = Date.now();
    await session.openCapture({ path: file });
    await session.whenIdle();
    log(`loaded ${session.flowCount} flows in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid=flows] .row').length > 0 && document.querySelector('[role=grid]')?.getAttribute('aria-rowcount') === String(n), session.flowCount, { timeout: 60_000 });
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('HeapProfiler.collectGarbage');
    const heap = async () => ((await cdp.send('Runtime.getHeapUsage')) as { usedSize: number }).usedSize;
    const before = await heap();
    // Two scrolls, recording every frame: a fling through the whole table and back (100,000 rows
    // in 3 s each way: every frame shows a page the table has not seen), and a steady scroll of
    // 12 rows a frame (about 700 rows a second) over 4,000 rows.
    const scroll = async (steps: number, rowsTotal: number) =>
      (await scrollFrames(page, '[data-testid=flows] .viewport', steps, Math.min(Number.MAX_SAFE_INTEGER, rowsTotal * 26), '[data-testid=flows] .row', 26)).deltas;
    const summary = (fr: number[]) => {
      const sorted = [...fr].sort((a, b) => a - b);
      return { median: +sorted[Math.floor(sorted.length / 2)].toFixed(1), p99: +sorted[Math.floor(sorted.length * 0.99)].toFixed(1), worst: +sorted[sorted.length - 1].toFixed(1), over50: fr.filter((x) => x > 50).length };
    };
    // the same loop without scrolling: what this machine's headless Chromium gives as a floor
    const idle = await scroll(333, 0);
    const fling = await scroll(360, Number.MAX_SAFE_INTEGER);
    const steady = await scroll(333, 4000);
    const frames = fling;
    await cdp.send('HeapProfiler.collectGarbage');
    const after = await heap();
    const f = summary(fling);
    const st = summary(steady);
    const id = summary(idle);
    const rowsInDom = await page.evaluate(() => document.querySelectorAll('[data-testid=flows] .row').length);

    // the stream pane over one direction of --stream-mb MB
    const big = join(dir, 'big.pcap');
    const mb = Number(values['stream-mb']);
    log(`generating one connection of ${mb} MB …`);
    const size = writeBigStream(big, mb);
    await session.openCapture({ path: big });
    await session.whenIdle();
    await page.fill('[data-testid=filter]', 'port:9090');
    await page.waitForFunction(() => document.querySelector('[data-testid=flows]')?.getAttribute('aria-rowcount') === '1', undefined, { timeout: 60_000 });
    const tOpen = Date.now();
    await page.click('[data-testid=flows] .row');
    await page.waitForSelector('[data-testid=stream] pre.run', { timeout: 120_000 });
    const firstRowsMs = Date.now() - tOpen;
    const streamRows = Number(await page.getAttribute('[data-testid=stream-rows]', 'aria-rowcount'));
    const sel = '[data-testid=stream-rows]';
    const run = async (steps: number, px: number) => {
      const r = await scrollFrames(page, sel, steps, px, '[data-row]', 18);
      return { ...summary(r.deltas), filledPct: Math.round(r.filled * 100) };
    };
    const sIdle = await run(200, 0);
    const sFling = await run(360, Number.MAX_SAFE_INTEGER);
    const sSteady = await run(333, 333 * 12 * 18);
    // the end: scrolled to the bottom, the client's last row ends at its last byte
    await page.evaluate((s) => {
      const el = document.querySelector(s) as HTMLElement;
      el.scrollTop = el.scrollHeight;
      el.dispatchEvent(new Event('scroll'));
    }, sel);
    const reachedEnd = await page
      .waitForFunction(
        (n) => [...document.querySelectorAll<HTMLElement>('[data-testid=stream] pre.run.d0')].some((e) => Number(e.dataset.offset) + Number(e.dataset.length) === n),
        size,
        { timeout: 30_000 },
      )
      .then(() => true, () => false);
    const streamRowsInDom = await page.evaluate(() => document.querySelectorAll('[data-testid=stream] [data-row]').length);
    const stream = { mb, rows: streamRows, firstRowsMs, idle: sIdle, fling: sFling, steady: sSteady, reachedEnd, rowsInDom: streamRowsInDom };
    const result = {
      flows: session.flowCount,
      frames: frames.length,
      fling: f,
      steady: st,
      idle: id,
      rowsInDom,
      heapBeforeMB: +(before / 1e6).toFixed(1),
      heapAfterMB: +(after / 1e6).toFixed(1),
      stream,
    };
    if (values.json) process.stdout.write(JSON.stringify(result) + '\n');
    else {
      log(`${result.flows} flows`);
      log(`no scrolling (the floor here, ${idle.length} frames): median ${id.median} ms, p99 ${id.p99} ms, worst ${id.worst} ms, ${id.over50} frames over 50 ms`);
      log(`fling (whole table and back, ${fling.length} frames): median ${f.median} ms, p99 ${f.p99} ms, worst ${f.worst} ms, ${f.over50} frames over 50 ms`);
      log(`steady (12 rows a frame, ${steady.length} frames): median ${st.median} ms, p99 ${st.p99} ms, worst ${st.worst} ms, ${st.over50} frames over 50 ms`);
      log(`rows in the DOM: ${rowsInDom} (virtualised); renderer JS heap ${result.heapBeforeMB} MB before, ${result.heapAfterMB} MB after`);
      log(`stream pane, one ${mb} MB direction (${streamRows.toLocaleString('en')} text rows): first rows ${firstRowsMs} ms after the click`);
      log(`  no scrolling (floor): median ${sIdle.median} ms, p99 ${sIdle.p99} ms, worst ${sIdle.worst} ms, ${sIdle.over50} frames over 50 ms`);
      log(`  fling (end to end and back, ${2 * 360 + 1} frames): median ${sFling.median} ms, p99 ${sFling.p99} ms, worst ${sFling.worst} ms, ${sFling.over50} frames over 50 ms; view filled in ${sFling.filledPct} % of frames`);
      log(`  steady (12 rows a frame): median ${sSteady.median} ms, p99 ${sSteady.p99} ms, worst ${sSteady.worst} ms, ${sSteady.over50} frames over 50 ms; view filled in ${sSteady.filledPct} % of frames`);
      log(`  last byte shown at the end: ${reachedEnd ? 'yes' : 'NO'}; ${streamRowsInDom} rows in the DOM`);
    }
  } finally {
    await browser.close();
    await srv.close();
    await session.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`bench:ui: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
