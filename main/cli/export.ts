import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { httpPlugin } from '../engine/protocols';
import { AtomicFile } from '../service/export/atomic-file';
import { HarWriter } from '../service/export/har';
import { runMessages } from '../service/messages';
import { UsageError, type BufferedOut } from './io';

export const EXPORT_FORMATS = ['har'] as const;

export interface ExportArgs {
  files: string[];
  format: string;
  out: string;
  version: string;
}

/**
 * `weft export FILE… --format har --out DIR`: the capture's HTTP exchanges as HAR 1.2, written
 * atomically (a temporary file renamed when complete; nothing left behind on failure).
 */
export async function exportCommand(a: ExportArgs, out: BufferedOut, err: BufferedOut): Promise<number> {
  if (!(EXPORT_FORMATS as readonly string[]).includes(a.format)) throw new UsageError(`--format must be one of: ${EXPORT_FORMATS.join(', ')} (not '${a.format}')`);
  mkdirSync(a.out, { recursive: true });
  const stem = a.files[0] === '-' ? 'stdin' : basename(a.files[0]).replace(/\.(pcapng|pcap|cap)$/i, '');
  const file = new AtomicFile(join(a.out, `${stem}.har`));
  try {
    const har = new HarWriter(file, { name: 'weft', version: a.version }, `HTTP/1.x exchanges reassembled by weft from ${a.files.join(', ')}`);
    const r = await runMessages(a.files, (m) => har.message(m), [httpPlugin]);
    har.end();
    file.commit();
    for (const e of r.errors) err.line(`weft: warning: ${e.message}`);
    out.line(`${file.path}: ${har.entries} HTTP exchange${har.entries === 1 ? '' : 's'} (HAR 1.2)`);
    return r.errors.length ? 2 : 0;
  } catch (e) {
    file.abort();
    throw e;
  }
}
