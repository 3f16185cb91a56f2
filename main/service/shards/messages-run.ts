/**
 * `weft messages` over N engine workers (sharded.ts): each worker parses its connections'
 * messages; the merger orders them by the packet of the capture that completed each, then by
 * connection (numbered as `weft flows` numbers them), each connection's in the order parsed.
 */
import type { ResourceLimits } from 'node:worker_threads';
import type { CaptureFormatError } from '../../engine/formats';
import type { OptionValues } from '../../engine/protocols';
import type { ReadOptions } from '../../sources/capture-source';
import { MESSAGE, type MessagesTaskSpec } from './messages-task';
import { runSharded } from './sharded';

export interface ShardedMessagesOptions {
  threads: number;
  /** Plugin names (all when null). */
  plugins: string[] | null;
  pluginOptions: Record<string, OptionValues>;
  json: boolean;
  maxConnections?: number;
  read?: ReadOptions;
  /** Awaited between merged batches when it returns a promise: the output's backpressure. */
  drain?: () => Promise<void> | void;
  workerLimits?: ResourceLimits;
  chunkBytes?: number;
  /** Each message's line (without its newline): bytes b[from, to), UTF-8. */
  line: (b: Uint8Array, from: number, to: number) => void;
}

export async function runShardedMessages(files: string[], o: ShardedMessagesOptions): Promise<{ errors: CaptureFormatError[]; messages: number; packets: number }> {
  const share = o.maxConnections === undefined ? undefined : Math.max(1, Math.ceil(o.maxConnections / o.threads));
  const task: MessagesTaskSpec = { kind: 'messages', plugins: o.plugins, pluginOptions: o.pluginOptions, json: o.json, maxConnections: share };
  let messages = 0;
  const r = await runSharded(files, {
    threads: o.threads,
    task,
    workerLimits: o.workerLimits,
    chunkBytes: o.chunkBytes,
    read: o.read,
    drain: o.drain,
    item: (_id, kind, r, _i, from, to) => {
      if (kind !== MESSAGE) return;
      messages++;
      o.line(r.text, from, to);
    },
  });
  return { errors: r.errors, messages, packets: r.packets };
}
