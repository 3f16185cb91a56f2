/**
 * EngineHost as a child process (child_process.fork of out/cli/engine-child.cjs): the engine in
 * its own process, which can load the `cap` native module for live capture (a worker thread
 * cannot). Used by `weft serve`; the desktop app uses Electron's utilityProcess the same way.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { EngineHost, FromWorker, ToWorker } from '../session/engine-protocol';

export function engineBundle(name: string): string {
  // __dirname is out/cli when bundled, main/service/hosts when run from sources (tests)
  const candidates = [join(__dirname, name), join(__dirname, '..', '..', '..', 'out', 'cli', name)];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`engine bundle ${name} not found (looked in ${candidates.join(', ')}): run 'npm run build:cli'`);
  return found;
}

export class ChildProcessHost implements EngineHost {
  private readonly child: ChildProcess;

  constructor(opts: { spoolParent?: string } = {}) {
    this.child = fork(engineBundle('engine-child.cjs'), [], {
      env: { ...process.env, WEFT_SPOOL_PARENT: opts.spoolParent ?? '' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
  }

  /** The engine process's id (for measuring it). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  post(msg: ToWorker): void {
    if (this.child.connected) this.child.send(msg);
  }

  onMessage(fn: (msg: FromWorker) => void): void {
    this.child.on('message', (m) => fn(m as FromWorker));
  }

  /** Called if the engine process ends without being asked to (a crash). */
  onExit(fn: (code: number | null, signal: string | null) => void): void {
    this.child.on('exit', fn);
  }

  async terminate(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.post({ t: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }
}
