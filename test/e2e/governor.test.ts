/**
 * The connection table's governor in the app (real Chromium through weft serve): the status bar
 * shows open connections and held pages against their limits, the limit is set there, and a
 * capture with more connections open at once than the limit loses none of them — those closed by
 * the limit are listed with state 'limit' and a 'cut' badge. Screenshot: test-results/governor.png.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session } from '../../main/service/session/session';
import { ROOT, startApp, type App } from '../helpers/app-browser';

const SHOTS = join(ROOT, 'test-results');
const dir = mkdtempSync(join(tmpdir(), 'weft-governor-'));
let app: App;
let page: Page;
let session: Session;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  app = await startApp({ spoolParent: dir });
  ({ page, session } = app);
});
afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the governor', () => {
  it('a limit set in the status bar closes the least recently active connections, each still listed once and marked', async () => {
    // 600 small connections, all open at once (the generator interleaves up to 2,000)
    const file = join(dir, 'many.pcap');
    execFileSync(process.execPath, [join(ROOT, 'test', 'bench', 'gen-pcap.mjs'), '--out', file, '--conns', '600', '--profile', 'small', '--seed', '4'], { stdio: 'ignore' });
    await page.goto(app.srv.url);
    await page.fill('[data-testid=path]', join(ROOT, 'test', 'fixtures', 'real', 'zeek-irc-5k-line.pcap'));
    await page.click('button[type=submit]');
    const governor = page.locator('[data-testid=governor-flows]');
    await expect.poll(() => governor.textContent(), { timeout: 10_000 }).toMatch(/\/\s*150,000\s*open/);
    expect(await page.locator('[data-testid=governor-pages]').textContent()).toMatch(/\/ 16,384 pages/);
    // set the limit to 50 through the status bar
    await page.click('[data-testid=limit]');
    await page.fill('[data-testid=limit-input]', '50');
    await page.press('[data-testid=limit-input]', 'Enter');
    await expect.poll(() => governor.textContent(), { timeout: 10_000 }).toMatch(/\/\s*50\s*open/);
    await page.fill('[data-testid=path]', file);
    await page.click('button[type=submit]');
    // the request reaches the session over the page's WebSocket: wait for the job, then for the read
    await expect.poll(async () => {
      const st = await session.getState({});
      return st.ok ? st.value.jobs.length : 0;
    }, { timeout: 10_000 }).toBe(2);
    await session.whenIdle();
    // every connection is listed once: 6 from the first file, 600 from the second
    const all = await session.queryFlows({ offset: 0, limit: 1000 });
    expect(all.ok && all.value.total).toBe(606);
    const cut = await session.queryFlows({ offset: 0, limit: 1000, filter: 'state:limit' });
    if (!cut.ok) throw new Error(cut.error);
    expect(cut.value.total).toBeGreaterThan(500);
    await expect.poll(() => governor.textContent(), { timeout: 10_000 }).toMatch(new RegExp(`${cut.value.total} cut`));
    await page.fill('[data-testid=filter]', 'state:limit');
    const rows = page.locator('[data-testid=flows] .row');
    // the filter applies with the next page fetch: wait for the table to say so
    await expect.poll(() => page.locator('[role=grid]').getAttribute('aria-rowcount'), { timeout: 10_000 }).toBe(String(cut.value.total));
    await expect.poll(() => rows.first().locator('.badge.cut').count(), { timeout: 10_000 }).toBe(1);
    expect(new Set(await rows.locator('.cell.state').allTextContents())).toEqual(new Set(['limit']));
    expect(await rows.first().locator('.badge.cut').getAttribute('title')).toContain('connection table was full');
    await page.screenshot({ path: join(SHOTS, 'governor.png') });
  }, 60_000);
});
