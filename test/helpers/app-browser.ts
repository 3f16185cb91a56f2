/**
 * The app as a browser test sees it: a Session over the engine's child process, `weft serve`'s
 * server on a free port, and Debian's Chromium (headless, driven by playwright-core) on a page.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecentFiles } from '../../main/service/recent';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startServer, type RunningServer } from '../../main/server/serve';
import { ChildProcessHost } from '../../main/service/hosts/child-host';
import { Session } from '../../main/service/session/session';

export const ROOT = join(__dirname, '..', '..');

/** Chromium's flags for tests here (TOOLCHAIN.md): no sandbox, GPU, network chatter or profile sync. */
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
}

export interface App {
  session: Session;
  srv: RunningServer;
  browser: Browser;
  page: Page;
  close(): Promise<void>;
}

/** Starts the session, the server and a browser page of 1280 × 800 (page errors go to the console). */
export async function startApp(opts: { spoolParent?: string } = {}): Promise<App> {
  // recent files in a folder of the test's own, never the user's configuration
  const recentDir = mkdtempSync(join(tmpdir(), 'weft-recent-'));
  const host = new ChildProcessHost(opts);
  host.onExit((why) => console.error('ENGINE EXIT', why, new Date().toISOString()));
  const session = new Session(host, new RecentFiles(join(recentDir, 'recent.json')), () => new ChildProcessHost(opts));
  // the tests' exports and saved captures go to test-results/ (the screenshots' folder)
  const outputRoot = join(ROOT, 'test-results');
  mkdirSync(outputRoot, { recursive: true });
  const srv = await startServer({ session, rendererDir: join(ROOT, 'out', 'renderer'), port: 0, outputRoot });
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('pageerror', (e) => console.error('page error:', e));
  return {
    session,
    srv,
    browser,
    page,
    async close() {
      await browser.close();
      await srv.close();
      await session.close();
      rmSync(recentDir, { recursive: true, force: true });
    },
  };
}
