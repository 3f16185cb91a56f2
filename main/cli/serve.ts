import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startServer } from '../server/serve';
import { Session } from '../service/session/session';
import { ChildProcessHost } from '../service/hosts/child-host';
import { RecentFiles } from '../service/recent';
import type { BufferedOut } from './io';

/** `weft serve [--port N] [--host H] [--max-connections N] [--out DIR] [FILE…]`: runs until interrupted. */
export async function serveCommand(a: { port: number; host: string; files: string[]; maxConnections: number; outputRoot?: string }, out: BufferedOut, err: BufferedOut): Promise<number> {
  if (a.outputRoot !== undefined && !existsSync(a.outputRoot)) {
    err.line(`weft: --out ${a.outputRoot}: no such folder (create it first: exports and saved captures go inside it)`);
    await err.flush();
    return 2;
  }
  // opened files are remembered between runs; "new session" gets a fresh engine
  const session = new Session(new ChildProcessHost(), new RecentFiles(), () => new ChildProcessHost());
  await session.setLimits({ maxConnections: a.maxConnections });
  // bundled as out/cli/weft.cjs: the renderer is built to out/renderer
  const rendererDir = join(__dirname, '..', 'renderer');
  let srv;
  try {
    srv = await startServer({ session, rendererDir, host: a.host, port: a.port, outputRoot: a.outputRoot && resolve(a.outputRoot) });
  } catch (e) {
    // a port taken or an address not this machine's: one line, and nothing left behind (the spool goes with the session)
    await session.close();
    err.line(`weft: ${listenError(e as NodeJS.ErrnoException, a.host, a.port)}`);
    await err.flush();
    return 2;
  }
  if (a.host !== '127.0.0.1' && a.host !== '::1' && a.host !== 'localhost')
    err.line(`weft: warning: listening on ${a.host}, not only on this machine; anyone who has the URL's token can read your captures`);
  out.line(`Weft is serving on ${srv.url}`);
  out.line('Open that URL in a browser (the token in it is required). Ctrl-C stops.');
  for (const f of a.files) {
    const r = await session.openCapture({ path: f });
    if (!r.ok) err.line(`weft: ${r.error}`);
  }
  await out.flush();
  await err.flush();
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await srv.close();
  await session.close();
  return 0;
}

/** Why listening failed, and what to do. */
export function listenError(e: NodeJS.ErrnoException, host: string, port: number): string {
  switch (e.code) {
    case 'EADDRINUSE':
      return `port ${port} on ${host} is in use: choose another with --port N (--port 0 takes any free one)`;
    case 'EACCES':
      return `not allowed to listen on port ${port}: ports below 1024 need privileges; choose another with --port N`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${host}: it is not an address of this machine (--host 127.0.0.1 is this machine only)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return `cannot listen on ${host}: no such host (give an address of this machine, e.g. --host 127.0.0.1)`;
    default:
      return `cannot listen on ${host}:${port}: ${e.message}`;
  }
}
