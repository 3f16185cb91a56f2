/**
 * `weft messages` over N engine workers (sharded.ts): each worker parses its connections'
 * messages; the merger orders them by the packet of the capture that completed each, then by
 * connection (numbered as `weft flows` numbers them), each connection's in the order parsed.
 */
import type { CaptureFormatError } from '../../engine/formats';
import type { OptionValues } from '../../engine/protocols';
import { MESSAGE, type MessagesTaskSpec } from './messages-task';
import { runSharded, shareOf, type ShardedRunTuning } from './sharded';

export interface ShardedMessagesOptions extends ShardedRunTuning {
  threads: number;
  /** Plugin names (all when null). */
  plugins: string[] | null;
  pluginOptions: Record<string, OptionValues>;
  json: boolean;
  maxConnections?: number;
  /** Each message's line (without its newline): bytes b[from, to), UTF-8, copied before it returns (the memory is reused). */
  line: (b: Uint8Array, from: number, to: number) => void;
}

export async function runShardedMessages(files: string[], o: ShardedMessagesOptions): Promise<{ errors: CaptureFormatError[]; messages: number; packets: number }> {
  const { threads, plugins, pluginOptions, json, maxConnections, line, ...tuning } = o;
  const task: MessagesTaskSpec = { kind: 'messages', plugins, pluginOptions, json, maxConnections: shareOf(maxConnections, threads) };
  let messages = 0;
  const r = await runSharded(files, {
    ...tuning,
    threads,
    task,
    copied: true,
    item: (_id, kind, r, _i, from, to) => {
      if (kind !== MESSAGE) return;
      messages++;
      line(r.text, from, to);
    },
  });
  return { errors: r.errors, messages, packets: r.packets };
}
