/** Messages between the session (main side) and the engine worker. */
import type { ExportRequest, FlowMessages, FlowRow, Job, SessionStats, StreamChunk, StreamRange } from '../ipc/contract';

/** Stats before anything was read. */
export function emptyStats(): SessionStats {
  return { packets: 0, bytes: 0, tcpPackets: 0, activeFlows: 0, completedFlows: 0, anomalies: {}, decodeErrors: 0, bufferedPages: 0, spoolBytes: 0, throughput: 0, drops: 0, protocols: {}, memoryMB: 0 };
}

export type ToWorker =
  | { t: 'open'; id: number; path: string }
  | { t: 'cancel'; id: number }
  | { t: 'pause'; id: number; paused: boolean }
  | { t: 'read'; reqId: number; range: StreamRange }
  | { t: 'messages'; reqId: number; id: number }
  | { t: 'export'; id: number; request: Omit<ExportRequest, 'ids'> & { files: string[]; keys?: string[] } }
  | { t: 'live'; id: number; device: string; filter: string; write?: string }
  | { t: 'stop' };

export type FromWorker =
  | { t: 'delta'; rows: FlowRow[]; stats: SessionStats; jobs: Job[] }
  | { t: 'read'; reqId: number; chunk: StreamChunk }
  | { t: 'messages'; reqId: number; value: FlowMessages }
  | { t: 'stopped' };

/** Where the engine runs: a worker thread under Node, a utility process under Electron. */
export interface EngineHost {
  post(msg: ToWorker): void;
  onMessage(fn: (msg: FromWorker) => void): void;
  terminate(): Promise<void>;
}
