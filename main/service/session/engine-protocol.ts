/** Messages between the session (main side) and the engine worker. */
import { DEFAULT_ASSEMBLER_OPTIONS } from '../../engine/reassembly';
import type { ExportRequest, FlowTimeline, FrameFound, RowsRequest, StreamRows, PacketPage, PacketRange, FlowMessages, FlowPage, FlowQuery, Job, SessionStats, StreamChunk, StreamFound, StreamRange, StreamSearch } from '../../ipc/contract';

/** Stats before anything was read. */
export function emptyStats(): SessionStats {
  return {
    packets: 0,
    bytes: 0,
    tcpPackets: 0,
    activeFlows: 0,
    completedFlows: 0,
    anomalies: {},
    decodeErrors: 0,
    bufferedPages: 0,
    spoolBytes: 0,
    throughput: 0,
    drops: 0,
    protocols: {},
    memoryMB: 0,
    maxConnections: DEFAULT_ASSEMBLER_OPTIONS.maxConnections,
    maxBufferedPages: DEFAULT_ASSEMBLER_OPTIONS.maxBufferedPagesTotal,
    limitClosed: 0,
    budgetGaps: 0,
  };
}

export type ToWorker =
  | { t: 'open'; id: number; path: string }
  | { t: 'cancel'; id: number }
  | { t: 'pause'; id: number; paused: boolean }
  | { t: 'read'; reqId: number; range: StreamRange }
  | { t: 'messages'; reqId: number; id: number }
  /** A page of the flow table (which lives with the engine). */
  | { t: 'query'; reqId: number; query: FlowQuery }
  /** Flows named by what they are (flowKey), for an export of chosen rows. */
  | { t: 'keys'; reqId: number; ids: number[] }
  | { t: 'export'; id: number; request: Omit<ExportRequest, 'ids'> & { files: string[]; keys?: string[] } }
  | { t: 'live'; id: number; device: string; filter: string; write?: string; promiscuous?: boolean; snaplen?: number }
  | { t: 'limits'; maxConnections: number }
  | { t: 'policies'; rules: { net: string; policy: string }[] }
  | { t: 'search'; reqId: number; search: StreamSearch }
  | { t: 'packets'; reqId: number; range: PacketRange }
  | { t: 'rows'; reqId: number; rows: RowsRequest }
  | { t: 'frame'; reqId: number; frame: number; prefer?: number }
  | { t: 'timeline'; reqId: number; bins: number; filter?: string }
  | { t: 'stop' };

/** An answer to a request: its value, or why there is none. */
type Answer<T extends string, V> = { t: T; reqId: number; value: V; error?: undefined } | { t: T; reqId: number; error: string; value?: undefined };

export type FromWorker =
  /** At most ten a second: how many rows changed (not which: the session asks for the page it shows), stats, jobs. */
  | { t: 'delta'; changed: number; flows: number; stats: SessionStats; jobs: Job[] }
  | Answer<'read', StreamChunk>
  | Answer<'messages', FlowMessages>
  | Answer<'query', FlowPage>
  | Answer<'keys', string[]>
  | Answer<'search', StreamFound>
  | Answer<'packets', PacketPage>
  | Answer<'rows', StreamRows>
  | Answer<'frame', FrameFound>
  | Answer<'timeline', FlowTimeline>
  | { t: 'stopped' };

/** Where the engine runs: a child process under Node (weft serve), a utility process under Electron. */
export interface EngineHost {
  post(msg: ToWorker): void;
  onMessage(fn: (msg: FromWorker) => void): void;
  /** Called when the engine's process ends without being asked to (a crash, a kill). */
  onExit(fn: (why: string) => void): void;
  terminate(): Promise<void>;
}
