import { parseOptions, PLUGINS, pluginByName, type OptionValues } from '../engine/protocols';
import { runShardedMessages } from '../service/shards/messages-run';
import { outputBound } from './flows';

export { messageLine } from '../service/pipeline/messages';
import { UsageError, type BufferedOut } from './io';

/** `weft plugins [--json]` */
export function pluginsCommand(json: boolean, out: BufferedOut): number {
  for (const p of PLUGINS) {
    if (json) out.line(JSON.stringify({ name: p.name, version: p.version, bpf: p.bpf, ports: p.ports, options: p.options }));
    else {
      out.line(`${p.name.padEnd(8)} ${p.version.padEnd(6)} ports ${p.ports.join(',').padEnd(24)} bpf: ${p.bpf}`);
      for (const o of p.options) out.line(`         --option ${p.name}.${o.name}=N  ${o.description} (default ${o.default}, ${o.min}…${o.max})`);
    }
  }
  return 0;
}

/** Plugin options from `--option PLUGIN.NAME=VALUE` flags, as a usage error when wrong. */
export function optionsOf(specs: readonly string[]): Record<string, OptionValues> {
  try {
    return parseOptions(specs);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** `weft messages FILE… [--plugin NAME] [--option P.N=V]… [--json]`: one line (or JSON object) per message. */
export async function messagesCommand(files: string[], plugin: string | undefined, options: readonly string[], json: boolean, out: BufferedOut, err: BufferedOut, maxConnections?: number, threads = 1): Promise<number> {
  if (plugin !== undefined && !pluginByName(plugin)) throw new UsageError(`no plugin '${plugin}' (weft plugins lists them)`);
  const r = await runShardedMessages(files, {
    threads,
    plugins: plugin === undefined ? null : [plugin],
    pluginOptions: optionsOf(options),
    json,
    maxConnections,
    line: (b, from, to) => out.lineOf('', b, from, to),
    ...outputBound(out),
  });
  for (const e of r.errors) err.line(`weft: warning: ${e.message}`);
  return r.errors.length;
}
