/**
 * What `weft export`'s second pass sends between the threads (export-task.ts in the workers,
 * export.ts on the reader's thread): a module of its own, so neither side's module needs the
 * other's to load.
 */
import type { ExportFormat } from '../../ipc/contract';
import type { MessageRecord } from '../pipeline/messages';

/** A chosen flow as the worker gets it: [creationKey, c2s name, s2c name, transcript name, client, server]. */
export type ChosenEntry = [number, string, string, string, string, string];

export interface ExportTaskSpec {
  kind: 'export';
  /** The export's staging folder. */
  stage: string;
  formats: ExportFormat[];
  maxConnections?: number;
  /** The chosen connections and UDP conversations this worker owns. */
  tcp: ChosenEntry[];
  udp: ChosenEntry[];
}

/** Item kinds. */
export const FRAME = 0, HTTP_MESSAGE = 1, NOT_CHOSEN_ENDED = 2;

/** A frame's item: six float64s (tsSec, tsNsec, origLen, linkType, ifIndex, file), then its bytes. */
export const FRAME_HEAD = 6;

/** A message's item extra: the message. */
export type ExportExtra = { message: MessageRecord };
