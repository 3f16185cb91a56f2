export * from './types';
export { httpPlugin } from './http';
export { redisPlugin, type RespValue } from './redis';
export { mysqlPlugin, type MysqlColumn } from './mysql';
export { mongoPlugin, readMongoBody, topLevel, type MongoBody, type MongoDocument } from './mongo';
import { httpPlugin } from './http';
import { redisPlugin } from './redis';
import { mysqlPlugin } from './mysql';
import { mongoPlugin } from './mongo';
import type { Direction, ProtocolPlugin } from './types';

/** Every protocol plugin Weft has, in the order detection tries them. */
export const PLUGINS: readonly ProtocolPlugin[] = [httpPlugin, redisPlugin, mysqlPlugin, mongoPlugin];

export function pluginByName(name: string): ProtocolPlugin | undefined {
  return PLUGINS.find((p) => p.name === name);
}

/**
 * Which protocol a connection speaks: by content first (the first bytes of the client's side,
 * else the server's), so a protocol on an unusual port is still found; null if none claims it.
 */
export function detectProtocol(first: [Uint8Array, Uint8Array], plugins: readonly ProtocolPlugin[] = PLUGINS): ProtocolPlugin | null {
  for (const dir of [0, 1] as Direction[]) {
    if (first[dir].length === 0) continue;
    const hit = plugins.find((p) => p.detect(first[dir], dir));
    if (hit) return hit;
  }
  return null;
}

/**
 * Option settings written `PLUGIN.NAME=VALUE` (e.g. `http.bodyPreview=65536`), checked against the
 * plugins' declarations: values by plugin name, or an Error saying what is wrong.
 */
export function parseOptions(specs: readonly string[], plugins: readonly ProtocolPlugin[] = PLUGINS): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const spec of specs) {
    const m = /^([a-z0-9]+)\.([A-Za-z0-9]+)=(.*)$/.exec(spec);
    if (!m) throw new Error(`an option is written PLUGIN.NAME=VALUE (e.g. http.bodyPreview=65536), not '${spec}'`);
    const [, name, key, text] = m;
    const plugin = plugins.find((p) => p.name === name);
    if (!plugin) throw new Error(`no plugin '${name}' in '${spec}' (weft plugins lists them)`);
    const o = plugin.options.find((x) => x.name === key);
    if (!o) throw new Error(`${name} has no option '${key}'${plugin.options.length ? ` (it has: ${plugin.options.map((x) => x.name).join(', ')})` : ''}`);
    const v = Number(text);
    if (!Number.isInteger(v) || v < o.min || v > o.max) throw new Error(`${name}.${key} must be a whole number from ${o.min} to ${o.max}, not '${text}'`);
    (out[name] ??= {})[key] = v;
  }
  return out;
}
