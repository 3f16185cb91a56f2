import { join } from 'node:path';
import { EXPORT_FORMATS, ExportError, exportFlows, type ExportFormat } from '../service/export/export';
import { UsageError, type BufferedOut } from './io';

export interface ExportArgs {
  files: string[];
  formats: string;
  out: string;
  filter?: string;
  flows?: string;
  version: string;
  maxConnections?: number;
  /** Engine threads (default 1). */
  threads?: number;
}

/**
 * `weft export FILE… --format raw,transcript,pcap,pcapng,jsonl,csv,har --out DIR [--filter EXPR]
 * [--flows 1,4,9]`: the chosen flows (all by default) in each format, written whole or not at all;
 * Ctrl-C cancels and leaves nothing. Progress goes to stderr when it is a terminal.
 */
export async function exportCommand(a: ExportArgs, out: BufferedOut, err: BufferedOut): Promise<number> {
  const formats = a.formats.split(',').map((f) => f.trim()).filter(Boolean);
  for (const f of formats) if (!(EXPORT_FORMATS as readonly string[]).includes(f)) throw new UsageError(`--format takes a comma-separated list of: ${EXPORT_FORMATS.join(', ')} (not '${f}')`);
  const ids = a.flows?.split(',').map((x) => {
    const n = Number(x.trim());
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--flows takes flow numbers (the # column of weft flows), not '${x}'`);
    return n;
  });
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  const tty = process.stderr.isTTY;
  let last = 0;
  try {
    const r = await exportFlows(
      { files: a.files, formats: formats as ExportFormat[], out: a.out, filter: a.filter, ids, version: a.version, maxConnections: a.maxConnections, threads: a.threads },
      (p) => {
        if (!tty || Date.now() - last < 200) return;
        last = Date.now();
        process.stderr.write(`\rweft: ${p.phase === 'flows' ? 'reading flows' : 'writing'} ${p.bytesTotal > 0 ? `${((100 * p.bytesDone) / p.bytesTotal).toFixed(0)}%` : ''}   `);
      },
      ac.signal,
    );
    if (tty) process.stderr.write('\r\x1b[K');
    for (const f of r.files) out.line(join(r.dir, f));
    for (const e of r.errors) err.line(`weft: warning: ${e}`);
    err.line(`weft: ${r.flows} flow${r.flows === 1 ? '' : 's'} exported (${formats.join(', ')}); manifest: ${r.manifest}`);
    return r.errors.length ? 2 : 0;
  } catch (e) {
    if (e instanceof ExportError) {
      err.line(`weft: ${e.message}`);
      return 2;
    }
    throw e;
  } finally {
    process.removeListener('SIGINT', stop);
  }
}
