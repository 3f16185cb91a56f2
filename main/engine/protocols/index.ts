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
