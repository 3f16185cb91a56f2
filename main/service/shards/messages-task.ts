/**
 * `weft messages` in an engine worker: its connections reassembled, their protocols detected
 * and parsed; each message's line is an item of its connection (results.ts), and a last item
 * says the connection is done (the merger forgets its number then).
 */
import { pluginByName, PLUGINS, type OptionValues } from '../../engine/protocols';
import { messageLine, MessagePipeline } from '../pipeline/messages';
import { PipelineTask } from './task';

export interface MessagesTaskSpec {
  kind: 'messages';
  /** The plugins to parse with (names), all when null. */
  plugins: string[] | null;
  pluginOptions: Record<string, OptionValues>;
  json: boolean;
  maxConnections?: number;
  /** Live (weft sniff): idle connections close on the wall clock (ticks), after `idleSec`. */
  wall?: boolean;
  idleSec?: number;
  /** Parse a connection on the plugin's port even when its first bytes are not recognised (weft sniff). */
  byPort?: boolean;
}

/** Item kinds. */
export const MESSAGE = 0, CONNECTION_DONE = 1;

export class MessagesTask extends PipelineTask<MessagePipeline> {
  constructor(spec: MessagesTaskSpec, index: number, workers: number) {
    const plugins = spec.plugins === null ? PLUGINS : spec.plugins.map((n) => pluginByName(n)!);
    super(
      new MessagePipeline(
        // a message's text may hold the capture's (summaries, fields): UTF-8
        (m, id) => this.out.item(this.k, id, MESSAGE, false, messageLine(m, spec.json), 0, false),
        plugins,
        { pluginOptions: spec.pluginOptions, assembler: spec.maxConnections ? { maxConnections: spec.maxConnections } : undefined, clock: spec.wall ? 'wall' : 'capture', idleSec: spec.idleSec, byPort: spec.byPort },
        (id) => this.out.item(this.k, id, CONNECTION_DONE, true, '', 0, true),
      ),
      index,
      workers,
    );
  }
}
