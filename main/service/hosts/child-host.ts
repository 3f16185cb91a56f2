/**
 * EngineHost as a child process (child_process.fork of out/cli/engine-child.cjs): the engine in
 * its own process, which can load the `cap` native module for live capture (a worker thread
 * cannot). Used by `weft serve`; the desktop app uses Electron's utilityProcess the same way.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SPOOL_PREFIX } from '../session/spool';
import { ENGINE_V8_FLAGS } from './heap';
import type { EngineHost, FromWorker, ToWorker } from '../session/engine-protocol';

export function engineBundle(name: string): string {
  // __dirname is out/cli when bundled, main/service/hosts when run from sources (tests); in the
  // packaged app the bundles a thread loads (shard-worker.cjs) are unpacked beside app.asar
  const candidates = [join(__dirname, name), join(__dirname, '..', '..', '..', 'out', 'cli', name)].flatMap((p) => [p.replace(/([\\/])app\.asar([\\/])/, '$1app.asar.unpacked$2'), p]);
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`engine bundle ${name} not found (looked in ${candidates.join(', ')}): run 'npm run build:cli'`);
  return found;
}

export class ChildProcessHost implements EngineHost {
  private readonly child: ChildProcess;
  private readonly spoolParent: string;

  /** `threads`: the engine's worker threads (default: WEFT_ENGINE_THREADS, else one per core); `threadHeapMb`: a bound on each one's heap. */
  constructor(opts: { spoolParent?: string; threads?: number; threadHeapMb?: number } = {}) {
    this.spoolParent = opts.spoolParent || tmpdir();
    this.child = fork(engineBundle('engine-child.cjs'), [], {
      env: { ...process.env, WEFT_SPOOL_PARENT: opts.spoolParent ?? '', ...(opts.threads ? { WEFT_ENGINE_THREADS: String(opts.threads) } : {}), ...(opts.threadHeapMb ? { WEFT_ENGINE_THREAD_HEAP_MB: String(opts.threadHeapMb) } : {}) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
      execArgv: [...process.execArgv, ...ENGINE_V8_FLAGS],
      // a process group of its own: Ctrl-C in a terminal signals the foreground group, and the
      // engine must not die before the parent stops it in order (answers, spool removed); if the
      // parent dies, the IPC channel closes and the engine exits by itself
      detached: process.platform !== 'win32',
    });
    // a message posted as the engine dies fails with EPIPE: its exit is what the session handles
    this.child.on('error', () => {});
    // a crash or a kill leaves the engine's spool behind: remove it (a clean stop removes its own)
    this.child.on('exit', (code) => {
      if (code !== 0) this.removeSpool();
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

  private stopping = false;

  onExit(fn: (why: string) => void): void {
    this.child.on('exit', (code, signal) => {
      if (!this.stopping) fn(signal ? `killed by ${signal}` : `exit code ${code}`);
    });
  }

  /** Removes the spool folder an engine that did not stop by itself left behind. */
  private removeSpool(): void {
    const mine = `${SPOOL_PREFIX}${this.child.pid}-`;
    try {
      for (const f of readdirSync(this.spoolParent)) if (f.startsWith(mine)) rmSync(join(this.spoolParent, f), { recursive: true, force: true });
    } catch {
      // the folder's parent is gone: nothing to remove
    }
  }

  async terminate(): Promise<void> {
    this.stopping = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.post({ t: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }
}
