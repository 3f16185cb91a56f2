import { parseOptions, PLUGINS, pluginByName, type OptionValues } from '../engine/protocols';
import { jsonSafe } from '../service/pipeline/message-content';
import { runMessages, type MessageRecord } from '../service/pipeline/messages';
import { formatTime } from './format';
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
export async function messagesCommand(files: string[], plugin: string | undefined, options: readonly string[], json: boolean, out: BufferedOut, err: BufferedOut, maxConnections?: number): Promise<number> {
  let plugins = PLUGINS;
  if (plugin !== undefined) {
    const p = pluginByName(plugin);
    if (!p) throw new UsageError(`no plugin '${plugin}' (weft plugins lists them)`);
    plugins = [p];
  }
  const r = await runMessages(files, (m) => out.line(messageLine(m, json)), plugins, optionsOf(options), maxConnections);
  for (const e of r.errors) err.line(`weft: warning: ${e.message}`);
  return r.errors.length;
}

/** One message as a line for people (time, protocol, who → whom, byte range, summary) or as JSON. */
export function messageLine(m: MessageRecord, json: boolean): string {
  if (json) {
    const { fields, ...rest } = m;
    return JSON.stringify({ ...rest, fields: jsonSafe(fields) });
  }
  const arrow = m.dir === 'c2s' ? `${m.client} > ${m.server}` : `${m.server} > ${m.client}`;
  return `${formatTime(m.tsSec, m.tsNsec)} ${m.protocol} ${arrow} [${m.start}-${m.end}) ${m.summary}`;
}
