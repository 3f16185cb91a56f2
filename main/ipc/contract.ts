/**
 * The one contract between the renderer and the main side (Electron IPC or `weft serve`): every
 * channel, its payload and result types, and a runtime guard for every payload. Main checks each
 * request with its guard before a handler sees it; handlers answer with data, never by throwing
 * across the boundary: {ok: true, value} or {ok: false, error}. The renderer imports this file for
 * its types only.
 */

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

export type FlowState = 'open' | 'fin' | 'rst' | 'idle' | 'end-of-input' | 'limit';

/** One row of the flows table. */
export interface FlowRow {
  id: number;
  client: string;
  server: string;
  ipVersion: number;
  firstSeen: number;
  lastSeen: number;
  packets: { c2s: number; s2c: number };
  bytes: { c2s: number; s2c: number };
  gaps: { c2s: number; s2c: number };
  state: FlowState;
  directionInferred: boolean;
  anomalies: Record<string, number>;
  conflicts: number;
  sha256: { c2s: string; s2c: string } | null;
  protocol: string | null;
  /** A TCP connection or a UDP conversation (its stream is its datagrams' payloads; it has no packet list yet). */
  transport: 'tcp' | 'udp';
}

export interface SessionStats {
  packets: number;
  bytes: number;
  tcpPackets: number;
  activeFlows: number;
  completedFlows: number;
  /** Decode anomalies (per packet) and stream anomalies (all connections), by kind. */
  anomalies: Record<string, number>;
  decodeErrors: number;
  bufferedPages: number;
  spoolBytes: number;
  /** Bytes per second over the last second of work. */
  throughput: number;
  drops: number;
  /** Connections by detected protocol (those no plugin recognised are not counted). */
  protocols: Record<string, number>;
  /** Resident memory of the engine's process, MB. */
  memoryMB: number;
  /** The governor: open connections are held to `maxConnections` (the least recently active closes, state 'limit'), out-of-order pages to `maxBufferedPages`. */
  maxConnections: number;
  maxBufferedPages: number;
  /** Connections closed because the table was full, and gaps skipped to stay within the page budget. */
  limitClosed: number;
  budgetGaps: number;
}

export interface Job {
  id: number;
  /** A file read, a live capture, or an export (whose path is its output folder). */
  kind?: 'file' | 'live' | 'export';
  path: string;
  bytesDone: number;
  bytesTotal: number;
  packets: number;
  state: 'queued' | 'running' | 'paused' | 'done' | 'failed' | 'cancelled';
  error: string | null;
  /** An export's files, once written (relative to its folder). */
  files?: string[];
  /** A live capture's counters: how it captures, packets dumpcap captured and Weft received, the kernel's drops (known when it stops, via dumpcap). */
  live?: { via: 'dumpcap' | 'libpcap'; received: number; captured: number; kernelDropped: number | null };
}

/** Every export format (see main/service/export/export.ts). */
export const EXPORT_FORMATS = ['raw', 'transcript', 'pcap', 'pcapng', 'jsonl', 'csv', 'har'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Export the session's flows: these ids, else those the filter keeps, else all. */
export interface ExportRequest {
  formats: ExportFormat[];
  /** Absolute path of the folder to write into. */
  out: string;
  ids?: number[];
  filter?: string;
}

export interface Device {
  name: string;
  description: string;
  addresses: string[];
  loopback: boolean;
  up: boolean;
  /** Up with a carrier (where known). */
  running?: boolean;
}

/** A search in one direction of a flow: `pattern` is the bytes as lowercase hex. */
export interface StreamSearch {
  id: number;
  dir: 0 | 1;
  pattern: string;
  /** Stream offset to search from (forward: at or after it; back: before it). */
  from: number;
  back?: boolean;
}

/** Where the bytes were found (null: nowhere), the frame of their first byte, and the other direction's offset at that frame. */
export type StreamFound = { offset: number; frame: number; otherOffset: number } | null;

/**
 * Rows of a flow's conversation (both directions in delivery order; text rows end at a line feed
 * or at `wrap` bytes, hex rows hold 16 bytes; a gap or conflict is a row of its own). With `at`,
 * the page is the one around the row holding that byte (a search hit, a packet's bytes).
 */
export interface RowsRequest {
  id: number;
  view: 'text' | 'hex';
  /** Text: the widest row, in bytes (16…4096). */
  wrap: number;
  from: number;
  /** Rows wanted, at most 2,000. */
  count: number;
  at?: { dir: 0 | 1; offset: number };
}

export interface StreamRow {
  kind: 'data' | 'gap' | 'conflict';
  dir: 0 | 1;
  /** Stream offset in the direction (a mark's: where it sits). */
  offset: number;
  length: number;
  /** Data rows: the bytes, base64. */
  data: string;
  /** Marks: what is missing or conflicting, and more on hover. */
  text: string;
  title: string;
  /** Where the row's bytes came from: one entry per packet piece. */
  provenance: { offset: number; length: number; frame: number; tsSec: number; tsNsec: number }[];
}

export interface StreamRows {
  id: number;
  view: 'text' | 'hex';
  wrap: number;
  /** Rows in all (so far, for a flow still open). */
  total: number;
  from: number;
  rows: StreamRow[];
  /** With `at`: the row holding that byte. */
  atRow: number | null;
  /** Delivered bytes per direction, as laid out. */
  bytes: [number, number];
}

/** The capture as time: flows started and flows active per slice (see FlowTable.timeline). */
export interface FlowTimeline {
  /** First packet and last packet of the flows counted (seconds since 1970). */
  from: number;
  to: number;
  starts: number[];
  active: number[];
}

/** Packets of a flow, from `from` on, at most `count` (≤ 50,000) per request. */
export interface PacketRange {
  id: number;
  from: number;
  count: number;
}

/**
 * A page of a flow's packets as the engine saw and judged them, as columns (index j is packet
 * from + j of the flow, in capture order). Sequence and acknowledgment numbers are absolute;
 * `base[dir]` is what relative numbers count from (the direction's SYN, else its first packet);
 * `scale[dir]` the window scale from its SYN (−1: none), applied when both directions gave one.
 */
export interface PacketPage {
  id: number;
  /** Packets of the flow in all. */
  total: number;
  from: number;
  base: [number, number];
  scale: [number, number];
  frame: number[];
  tsSec: number[];
  tsNsec: number[];
  dir: (0 | 1)[];
  /** TCP flags, FIN..CWR in bits 0..7, NS in bit 8. */
  flags: number[];
  seq: number[];
  ack: number[];
  /** Payload length (as the IP header declared it). */
  len: number[];
  /** The window field as sent (unscaled). */
  win: number[];
  /** Bit i: anomaly names[i] was judged of this packet; bit 30: it came after its connection closed. */
  judged: number[];
  /** The anomalies' names, by bit (the engine's STREAM_ANOMALY_NAMES). */
  names: string[];
  /** SACK blocks, absolute edges [left, right, …]. */
  sack: number[][];
  /**
   * Where each packet sits in the two byte streams: at[2j + d] is direction d's stream offset of
   * the first byte delivered from this packet's frame or later (the stream pane shows it).
   */
  at: number[];
}

/** Frame N (several files each number from 1: `prefer` is the flow to look in first). */
export interface FrameQuery {
  frame: number;
  prefer?: number;
}

/** Where a frame is: its flow and its index among the flow's packets (null: no TCP packet of a flow has that number). */
export type FrameFound = { id: number; index: number } | null;

/** The engine's limits a user can set. */
export interface Limits {
  /** Open connections held at most; past it the least recently active closes (state 'limit'). */
  maxConnections: number;
}

export interface CaptureRequest {
  device: string;
  filter: string;
  /** Save everything captured to this pcapng file (optional). */
  write?: string;
  /** Promiscuous mode (default on). */
  promiscuous?: boolean;
  /** Bytes kept of each packet (default 262,144 through dumpcap). */
  snaplen?: number;
}

export type SortKey = 'id' | 'client' | 'server' | 'protocol' | 'packets' | 'bytesC2s' | 'bytesS2c' | 'duration' | 'rate' | 'state' | 'firstSeen' | 'gaps';

export interface FlowQuery {
  offset: number;
  limit: number;
  sort?: { key: SortKey; dir: 'asc' | 'desc' };
  filter?: string;
}

export interface FlowPage {
  total: number;
  offset: number;
  rows: FlowRow[];
}

export interface StreamRange {
  id: number;
  dir: 0 | 1;
  from: number;
  to: number;
}

export interface StreamChunk {
  id: number;
  dir: 0 | 1;
  from: number;
  /** The bytes, base64 (JSON-safe on every transport). */
  data: string;
  /** Delivered bytes in the direction so far. */
  length: number;
  provenance: { offset: number; length: number; frame: number; tsSec: number; tsNsec: number }[];
  gaps: { offset: number; length: number; cause: string }[];
  conflicts: { offset: number; kept: number[]; other: number[]; frame: number }[];
}

/** One protocol message of a flow, as the protocol tab shows it. */
export interface FlowMessage {
  dir: 0 | 1;
  /** request, response, reply, command, handshake, login, auth, push, … (the plugin's words). */
  kind: string;
  /** Byte range in the direction's delivered stream (the stream view's offsets). */
  start: number;
  end: number;
  summary: string;
  /** Protocol fields, JSON-safe: headers, decoded bodies, SQL, rows, documents as Extended JSON. */
  fields: Record<string, unknown>;
  /** Frame and capture time of the message's first byte. */
  frame: number;
  tsSec: number;
  tsNsec: number;
}

export interface FlowMessages {
  id: number;
  protocol: string | null;
  messages: FlowMessage[];
  /** Why a direction's parser gave up (TLS, compression, garbage), or null. */
  stopped: [string | null, string | null];
  /** More than the limit: only the first messages (or bytes) were parsed. */
  truncated: boolean;
}

/** Pushed to the renderer, throttled to about 10 a second. */
export interface SessionDelta {
  /**
   * Rows that changed since the last delta (how many, not which: the table asks for the page it
   * shows, so a delta's size does not grow with the number of flows).
   */
  changed: number;
  /** Rows in the table. */
  flows: number;
  stats: SessionStats;
  jobs: Job[];
  /** Set once the engine has stopped on its own (a crash, a kill): how often, and why the last time. */
  engine?: EngineNote;
}

/** The session's engine ended without being asked to; the page says so until dismissed. */
export interface EngineNote {
  /** Times a new engine was started after one stopped (the page shows each new one). */
  restarts: number;
  /** Why the last one ended: "killed by SIGKILL", "exit code 134". */
  why: string;
  /** Whether a new engine took over (the desktop app and weft serve always start one). */
  restarted: boolean;
}

type Guard<T> = (v: unknown) => v is T;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): v is number => Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
const SORT_KEYS: SortKey[] = ['id', 'client', 'server', 'protocol', 'packets', 'bytesC2s', 'bytesS2c', 'duration', 'rate', 'state', 'firstSeen', 'gaps'];

export const guards = {
  openCapture: ((v): v is { path: string } => isObj(v) && typeof v.path === 'string' && v.path.length > 0 && v.path.length < 4096) as Guard<{ path: string }>,
  cancelJob: ((v): v is { id: number } => isObj(v) && isInt(v.id, 1)) as Guard<{ id: number }>,
  pauseJob: ((v): v is { id: number; paused: boolean } => isObj(v) && isInt(v.id, 1) && typeof v.paused === 'boolean') as Guard<{ id: number; paused: boolean }>,
  queryFlows: ((v): v is FlowQuery => {
    if (!isObj(v) || !isInt(v.offset) || !isInt(v.limit, 0, 10_000)) return false;
    if (v.filter !== undefined && (typeof v.filter !== 'string' || v.filter.length > 1000)) return false;
    if (v.sort !== undefined) {
      if (!isObj(v.sort) || !SORT_KEYS.includes(v.sort.key as SortKey) || (v.sort.dir !== 'asc' && v.sort.dir !== 'desc')) return false;
    }
    return true;
  }) as Guard<FlowQuery>,
  readStream: ((v): v is StreamRange => isObj(v) && isInt(v.id, 1) && (v.dir === 0 || v.dir === 1) && isInt(v.from) && isInt(v.to) && (v.to as number) >= (v.from as number) && (v.to as number) - (v.from as number) <= 16 * 1024 * 1024) as Guard<StreamRange>,
  readMessages: ((v): v is { id: number } => isObj(v) && isInt(v.id, 1) && Object.keys(v).length === 1) as Guard<{ id: number }>,
  exportFlows: ((v): v is ExportRequest =>
    isObj(v) &&
    Array.isArray(v.formats) &&
    v.formats.length > 0 &&
    v.formats.every((f) => (EXPORT_FORMATS as readonly string[]).includes(f as string)) &&
    typeof v.out === 'string' &&
    v.out.startsWith('/') === true &&
    v.out.length < 4096 &&
    (v.ids === undefined || (Array.isArray(v.ids) && v.ids.length <= 1_000_000 && v.ids.every((x) => isInt(x, 1)))) &&
    (v.filter === undefined || (typeof v.filter === 'string' && v.filter.length <= 1000))) as Guard<ExportRequest>,
  getState: ((v): v is Record<string, never> => isObj(v) && Object.keys(v).length === 0) as Guard<Record<string, never>>,
  listDevices: ((v): v is Record<string, never> => isObj(v) && Object.keys(v).length === 0) as Guard<Record<string, never>>,
  checkFilter: ((v): v is { device: string; filter: string } =>
    isObj(v) && typeof v.device === 'string' && v.device.length > 0 && v.device.length < 256 && typeof v.filter === 'string' && v.filter.length < 4096) as Guard<{ device: string; filter: string }>,
  searchStream: ((v): v is StreamSearch =>
    isObj(v) &&
    isInt(v.id, 1) &&
    (v.dir === 0 || v.dir === 1) &&
    typeof v.pattern === 'string' &&
    /^([0-9a-f]{2}){1,1000}$/.test(v.pattern) &&
    isInt(v.from) &&
    (v.back === undefined || typeof v.back === 'boolean')) as Guard<StreamSearch>,
  readRows: ((v): v is RowsRequest =>
    isObj(v) &&
    isInt(v.id, 1) &&
    (v.view === 'text' || v.view === 'hex') &&
    isInt(v.wrap, 16, 4096) &&
    isInt(v.from) &&
    isInt(v.count, 0, 2000) &&
    (v.at === undefined || (isObj(v.at) && (v.at.dir === 0 || v.at.dir === 1) && isInt(v.at.offset))) &&
    Object.keys(v).every((k) => ['id', 'view', 'wrap', 'from', 'count', 'at'].includes(k))) as Guard<RowsRequest>,
  flowTimeline: ((v): v is { bins: number; filter?: string } =>
    isObj(v) && isInt(v.bins, 1, 4000) && (v.filter === undefined || (typeof v.filter === 'string' && v.filter.length <= 1000)) && Object.keys(v).every((k) => k === 'bins' || k === 'filter')) as Guard<{
    bins: number;
    filter?: string;
  }>,
  listRecent: ((v): v is Record<string, never> => isObj(v) && Object.keys(v).length === 0) as Guard<Record<string, never>>,
  newSession: ((v): v is Record<string, never> => isObj(v) && Object.keys(v).length === 0) as Guard<Record<string, never>>,
  selfTest: ((v): v is Record<string, never> => isObj(v) && Object.keys(v).length === 0) as Guard<Record<string, never>>,
  comparePolicies: ((v): v is { id: number } => isObj(v) && Object.keys(v).length === 1 && isInt(v.id, 1)) as Guard<{ id: number }>,
  setHostPolicies: ((v): v is HostPolicies =>
    isObj(v) &&
    Object.keys(v).length === 1 &&
    Array.isArray(v.rules) &&
    v.rules.length <= 64 &&
    v.rules.every((r: unknown) => isObj(r) && Object.keys(r).length === 2 && typeof r.net === 'string' && r.net.length > 0 && r.net.length <= 64 && typeof r.policy === 'string' && r.policy.length <= 16)) as Guard<HostPolicies>,
  readPackets: ((v): v is PacketRange => isObj(v) && Object.keys(v).length === 3 && isInt(v.id, 1) && isInt(v.from) && isInt(v.count, 0, 50_000)) as Guard<PacketRange>,
  findFrame: ((v): v is FrameQuery => isObj(v) && isInt(v.frame, 1, 0xffffffff) && (v.prefer === undefined || isInt(v.prefer, 1)) && Object.keys(v).every((k) => k === 'frame' || k === 'prefer')) as Guard<FrameQuery>,
  setLimits: ((v): v is Limits => isObj(v) && Object.keys(v).length === 1 && isInt(v.maxConnections, 1, 50_000_000)) as Guard<Limits>,
  startCapture: ((v): v is CaptureRequest =>
    isObj(v) &&
    typeof v.device === 'string' &&
    v.device.length > 0 &&
    v.device.length < 256 &&
    typeof v.filter === 'string' &&
    v.filter.length < 4096 &&
    (v.write === undefined || (typeof v.write === 'string' && v.write.length > 0 && v.write.length < 4096)) &&
    (v.promiscuous === undefined || typeof v.promiscuous === 'boolean') &&
    (v.snaplen === undefined || (Number.isInteger(v.snaplen) && (v.snaplen as number) >= 1 && (v.snaplen as number) <= 262144))) as Guard<CaptureRequest>,
};

/** One direction of the self-test (main/service/selftest.ts): Weft's reassembly against tshark's stored one. */
export interface SelfTestRow {
  set: string;
  file: string;
  client: string;
  server: string;
  dir: 'c2s' | 's2c';
  tsharkBytes: number;
  /** Weft's bytes for the direction; -1 when Weft found no such connection. */
  weftBytes: number;
  /** Packets of the connection: tshark's frames and Weft's (both directions). */
  tsharkPackets: number;
  weftPackets: number;
  verdict: 'match' | 'known' | 'differs' | 'missing';
  /** Why a known difference differs (KNOWN-DIFFERENCES.md). */
  reason?: string;
}

export interface SelfTestReport {
  /** Where the captures were read from. */
  root: string;
  captures: number;
  rows: SelfTestRow[];
  match: number;
  known: number;
  failed: number;
}

/** A flow replayed under every overlap policy (main/service/pipeline/replay.ts). */
export interface PolicyOutcome {
  /** The policies that give these bytes (each policy is in one outcome). */
  policies: string[];
  c2s: { length: number; sha256: string };
  s2c: { length: number; sha256: string };
}
export interface PolicyDifference {
  dir: 'c2s' | 's2c';
  /** Offset in the direction's delivered bytes, and how many bytes differ from there. */
  offset: number;
  length: number;
  /** What each group of policies has there (at most 256 bytes shown). */
  versions: { policies: string[]; bytes: number[] }[];
  /** Up to 16 bytes on each side, the same under every policy (to read the range in its place). */
  before: number[];
  after: number[];
}
export interface PolicyReplay {
  outcomes: PolicyOutcome[];
  differences: PolicyDifference[];
  /** The bytes compared stop here per direction: differences beyond are not listed. */
  compared: { c2s: number; s2c: number };
}

/** Per-host overlap policies: the hosts of `net` (an address or a network) keep overlapping bytes as `policy`'s TCP does. */
export interface HostPolicies {
  rules: { net: string; policy: string }[];
}

/** Every request channel: its name, payload guard, and result type. */
export interface Channels {
  openCapture: { req: { path: string }; res: Job };
  cancelJob: { req: { id: number }; res: Job };
  /** Pauses (paused: true) or resumes reading a file. */
  pauseJob: { req: { id: number; paused: boolean }; res: Job };
  queryFlows: { req: FlowQuery; res: FlowPage };
  readStream: { req: StreamRange; res: StreamChunk };
  /** The flow's protocol messages, parsed from its spooled bytes (again each time: live flows grow). */
  readMessages: { req: { id: number }; res: FlowMessages };
  /** Starts an export as a job (progress in deltas; cancel with cancelJob). */
  exportFlows: { req: ExportRequest; res: Job };
  getState: { req: Record<string, never>; res: SessionDelta };
  listDevices: { req: Record<string, never>; res: Device[] };
  /** ok with null when the filter compiles on the device, else the libpcap message as the error. */
  checkFilter: { req: { device: string; filter: string }; res: null };
  /** Starts a live capture as a job (stop it with cancelJob). */
  startCapture: { req: CaptureRequest; res: Job };
  /** Finds bytes in a direction of a flow (next from an offset, or the previous one). */
  searchStream: { req: StreamSearch; res: StreamFound };
  /** Rows of a flow's conversation, for the stream pane (any size: it asks for what it shows). */
  readRows: { req: RowsRequest; res: StreamRows };
  /** Flows started and active over the capture's time, for the timeline above the table. */
  flowTimeline: { req: { bins: number; filter?: string }; res: FlowTimeline };
  /** Capture files opened lately, newest first, kept between runs. */
  listRecent: { req: Record<string, never>; res: string[] };
  /** Closes every file and capture of the session and starts an empty one. */
  newSession: { req: Record<string, never>; res: null };
  /** Reassembles the captures shipped with Weft and compares every direction with tshark's (Help › Self-test). */
  selfTest: { req: Record<string, never>; res: SelfTestReport };
  /** Flow `id` replayed under every overlap policy: what each target would have seen, where they differ. */
  comparePolicies: { req: { id: number }; res: PolicyReplay };
  /** The overlap policy of the hosts of each network (for what they receive), from now on; [] clears them. */
  setHostPolicies: { req: HostPolicies; res: HostPolicies };
  /** A page of a flow's packets (the packet list, the graphs). */
  readPackets: { req: PacketRange; res: PacketPage };
  /** Which flow frame N belongs to, and where among its packets ("go to frame"). */
  findFrame: { req: FrameQuery; res: FrameFound };
  /** Sets the connection table's limit (from now on: a lower one closes the least recently active at the next new connection). */
  setLimits: { req: Limits; res: Limits };
}

export type ChannelName = keyof Channels;
export const CHANNELS = Object.keys(guards) as ChannelName[];

/** What the renderer talks to: the preload API under Electron, a WebSocket client under weft serve. */
export type WeftApi = { [K in ChannelName]: (req: Channels[K]['req']) => Promise<Result<Channels[K]['res']>> } & {
  onDelta(listener: (d: SessionDelta) => void): () => void;
};
