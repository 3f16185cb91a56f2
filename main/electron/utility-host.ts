/** EngineHost on Electron's utilityProcess: the engine runs in its own OS process. */
import { utilityProcess, type UtilityProcess } from 'electron';
import { join } from 'node:path';
import type { EngineHost, FromWorker, ToWorker } from '../service/session/engine-protocol';
import { ENGINE_V8_FLAGS } from '../service/hosts/heap';

export class UtilityProcessHost implements EngineHost {
  private readonly child: UtilityProcess;

  constructor(bundleDir: string) {
    this.child = utilityProcess.fork(join(bundleDir, 'engine-utility.cjs'), [], { serviceName: 'Weft engine', execArgv: ENGINE_V8_FLAGS });
  }

  post(msg: ToWorker): void {
    this.child.postMessage(msg);
  }

  onMessage(fn: (msg: FromWorker) => void): void {
    this.child.on('message', fn);
  }

  private stopping = false;

  onExit(fn: (why: string) => void): void {
    this.child.on('exit', (code) => {
      if (!this.stopping) fn(`exit code ${code}`);
    });
  }

  async terminate(): Promise<void> {
    this.stopping = true;
    this.child.postMessage({ t: 'stop' } satisfies ToWorker);
    await new Promise((r) => setTimeout(r, 200));
    this.child.kill();
  }
}

/** The cap probe (device list, filter check) in a utility process: what it printed. */
export function utilityProbe(bundleDir: string): (args: string[]) => Promise<string> {
  return (args) =>
    new Promise((resolve, reject) => {
      const child = utilityProcess.fork(join(bundleDir, 'cap-probe.cjs'), args, { serviceName: 'Weft capture probe', stdio: 'pipe' });
      let out = '';
      child.stdout?.on('data', (d: Buffer) => (out += d.toString('utf8')));
      const timer = setTimeout(() => child.kill(), 10_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        if (out) resolve(out);
        else reject(new Error(`it ended (code ${code}) without an answer`));
      });
    });
}
