/**
 * `npm run bench:ui`: the renderer with 100,000 flows. Generates a capture of 100,000 small
 * connections in a temporary folder, loads it through weft serve, opens the app in headless
 * Chromium and scrolls the flows table — a fling through all of it and back, and a steady scroll —
 * measuring every frame (requestAnimationFrame deltas) and the page's JS heap before and after.
 * Reports median, 99th-percentile and worst frame times, frames over 50 ms, and the heap growth. The folder is deleted afterwards.
 *
 * Flags: --conns N (default 100000), --json.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { launchChromium } from '../helpers/app-browser';
import { startServer } from '../../main/server/serve';
import { Session } from '../../main/service/session/session';
import { ChildProcessHost } from '../../main/service/hosts/child-host';

const ROOT = join(__dirname, '..', '..');

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { conns: { type: 'string', default: '100000' }, json: { type: 'boolean' } } });
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
    const scroll = (steps: number, rowsTotal: number) =>
      page.evaluate(
        async ([steps, rowsTotal]) => {
          const vp = document.querySelector('[data-testid=flows] .viewport') as HTMLElement;
          const deltas: number[] = [];
          const max = Math.min(vp.scrollHeight - vp.clientHeight, rowsTotal * 26);
          let last = performance.now();
          for (let i = 0; i <= 2 * steps; i++) {
            const f = i <= steps ? i / steps : 2 - i / steps;
            vp.scrollTop = f * max;
            vp.dispatchEvent(new Event('scroll'));
            await new Promise((r) => requestAnimationFrame(r));
            const now = performance.now();
            deltas.push(now - last);
            last = now;
          }
          return deltas;
        },
        [steps, rowsTotal],
      );
    // the same loop without scrolling: what this machine's headless Chromium gives as a floor
    const idle = await scroll(333, 0);
    const fling = await scroll(360, Number.MAX_SAFE_INTEGER);
    const steady = await scroll(333, 4000);
    const frames = fling;
    await cdp.send('HeapProfiler.collectGarbage');
    const after = await heap();
    const summary = (fr: number[]) => {
      const sorted = [...fr].sort((a, b) => a - b);
      return { median: +sorted[Math.floor(sorted.length / 2)].toFixed(1), p99: +sorted[Math.floor(sorted.length * 0.99)].toFixed(1), worst: +sorted[sorted.length - 1].toFixed(1), over50: fr.filter((x) => x > 50).length };
    };
    const f = summary(fling);
    const st = summary(steady);
    const id = summary(idle);
    const rowsInDom = await page.evaluate(() => document.querySelectorAll('[data-testid=flows] .row').length);
    const result = {
      flows: session.flowCount,
      frames: frames.length,
      fling: f,
      steady: st,
      idle: id,
      rowsInDom,
      heapBeforeMB: +(before / 1e6).toFixed(1),
      heapAfterMB: +(after / 1e6).toFixed(1),
    };
    if (values.json) process.stdout.write(JSON.stringify(result) + '\n');
    else {
      log(`${result.flows} flows`);
      log(`no scrolling (the floor here, ${idle.length} frames): median ${id.median} ms, p99 ${id.p99} ms, worst ${id.worst} ms, ${id.over50} frames over 50 ms`);
      log(`fling (whole table and back, ${fling.length} frames): median ${f.median} ms, p99 ${f.p99} ms, worst ${f.worst} ms, ${f.over50} frames over 50 ms`);
      log(`steady (12 rows a frame, ${steady.length} frames): median ${st.median} ms, p99 ${st.p99} ms, worst ${st.worst} ms, ${st.over50} frames over 50 ms`);
      log(`rows in the DOM: ${rowsInDom} (virtualised); renderer JS heap ${result.heapBeforeMB} MB before, ${result.heapAfterMB} MB after`);
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
