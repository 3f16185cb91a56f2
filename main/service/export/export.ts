/**
 * Exporting flows, one implementation for the CLI and the app. Two passes over the inputs:
 *
 *   1. flows: every connection as a Flow (as `weft flows` sees it), to choose the flows (by
 *      id, or by the flows-table filter language) and to write the records (jsonl, csv, manifest);
 *   2. content, only when a format needs bytes or packets: the inputs again through the same
 *      pipeline (connections get the same numbers), writing the chosen flows' raw bytes per
 *      direction, transcripts, the original frames (pcap / pcapng slice) and HTTP as HAR.
 *
 * Everything is written in a hidden staging folder inside the output folder and moved into place
 * when the whole export succeeded: cancelled or failed, nothing (not even part of a file) is left.
 * Bytes stream straight to files (a few file handles kept open), so a 1 GB capture exports in
 * bounded memory. Gaps are never filled or marked inside raw bytes: the manifest says where they are.
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { endpointHost, endpointPort } from '../../engine/decode/addr';
import type { DecodedPacket, TcpHeader } from '../../engine/decode/layers';
import { DEFAULT_DEFRAG } from '../../engine/decode/defrag';
import { copyBytes, grownTo } from '../../engine/util/bytes';
import type { CapturedPacket, InterfaceInfo } from '../../engine/formats';
import { PcapngWriter, PcapWriter } from '../../engine/formats/writers';
import { httpPlugin } from '../../engine/protocols';
import type { AssemblerContext, CaptureInfo, CloseReason, ConnectionState, NetFlow, ScatterGather, Stream, StreamFactory, TCPFlowDirection, TcpFlow } from '../../engine/reassembly';
import type { ReadOptions } from '../../sources/capture-source';
import type { Flow } from '../pipeline/flow-recorder';
import type { UdpFlow } from '../../engine/flows';
import { compileFilter, flowFacts, udpFacts } from '../pipeline/flow-query';
import { MessageStream, type MessageRecord } from '../pipeline/messages';
import { connRecord, CSV_COLUMNS, csvRow, escapeText, tcpflowName, udpConnRecord, udpCsvRow } from '../../engine/export/serialise';
import { addressBytes, communityId } from './community-id';
export { tcpflowName };
import { HarWriter } from './har';
import { runSharded, shareOf } from '../shards/sharded';
import { idPrefix, TCP_FLOW } from '../shards/flows-task';
import { FRAME, FRAME_HEAD, HTTP_MESSAGE, type ChosenEntry, type ExportExtra } from '../shards/export-items';
import { pairHash } from '../shards/ring';

import { EXPORT_FORMATS, type ExportFormat } from '../../ipc/contract';
export { EXPORT_FORMATS, type ExportFormat };

export interface ExportRequest {
  /** The inputs, read in order as one capture ("-" is standard input). */
  files: string[];
  formats: ExportFormat[];
  /** Folder to write into (created if missing). */
  out: string;
  /** Which flows: these ids (the table's #), else those the filter expression keeps, else all. */
  ids?: number[];
  /** Or flows named by what they are, whatever their numbers: `flowKey(client, server, firstSeen)`. */
  keys?: string[];
  filter?: string;
  version?: string;
  /** Open connections held at most while reading (default: the engine's, 150,000). */
  maxConnections?: number;
  /** Engine threads (default 1): both passes are sharded (shards/), with the same files for every N. */
  threads?: number;
}

/** A flow's name independent of numbering (the app's rows and `weft flows` agree on it). */
export function flowKey(client: string, server: string, firstSeen: number): string {
  return `${client} ${server} ${firstSeen}`;
}

export interface ExportProgress {
  phase: 'flows' | 'content';
  bytesDone: number;
  bytesTotal: number;
}

export interface ExportResult {
  /** The folder written into: `out`, or a new folder inside it when `out` held files (exportFolder). */
  dir: string;
  /** Files written, relative to `dir`. */
  files: string[];
  flows: number;
  manifest: string;
  /** Damage found in the inputs (file, byte offset, what to do): the flows before it were exported. */
  errors: string[];
}

export class ExportError extends Error {
  override readonly name = 'ExportError';
}

/** A few file handles kept open, the rest closed and reopened for appending (many flows, few fds). */
export class Files {
  private open = new Map<string, number>();
  constructor(private readonly dir: string) {}

  append(name: string, data: Uint8Array | string): void {
    let fd = this.open.get(name);
    if (fd === undefined) {
      if (this.open.size >= 64) {
        const [oldest, ofd] = this.open.entries().next().value as [string, number];
        closeSync(ofd);
        this.open.delete(oldest);
      }
      fd = openSync(join(this.dir, name), 'a');
    } else this.open.delete(name);
    this.open.set(name, fd); // most recently used last
    const b = typeof data === 'string' ? Buffer.from(data) : data;
    let w = 0;
    while (w < b.length) w += writeSync(fd, b, w, b.length - w);
  }

  closeAll(): void {
    for (const fd of this.open.values()) closeSync(fd);
    this.open.clear();
  }
}

/** What is kept of a packet to write it again. */
type Frame = Pick<CapturedPacket, 'buf' | 'offset' | 'capLen' | 'origLen' | 'tsSec' | 'tsNsec' | 'ifIndex' | 'linkType'>;

/** A chosen flow (a connection, or a UDP conversation whose datagrams' payloads go to `names` one after another) and its files. */
export interface Chosen<R extends Endpoints = Endpoints> {
  record: R;
  names: [string, string];
  transcript: string;
}
export type ChosenUdp = Chosen;
/** What pass 2 needs of a flow's record. */
export interface Endpoints {
  client: string;
  server: string;
}

/** Pass 2's stream: writes a chosen connection's bytes, transcript and HTTP messages. */
class ExportStream implements Stream {
  private lastDir = -1;
  id = -1;
  private chosen: Chosen | undefined;
  private messages: MessageStream | null = null;
  constructor(private readonly owner: ContentWriter) {}

  /** The connection's number is the pool's (UDP conversations take numbers from the same counter). */
  attach(c: ConnectionState): void {
    this.id = c.id;
    this.chosen = this.owner.chosenConnection(c.id);
    this.messages = this.owner.messagesFor(this.chosen, c.id);
  }

  accept(_t: TcpHeader, _ci: CaptureInfo, _dir: TCPFlowDirection): boolean {
    this.owner.currentConnection = this.id;
    return true;
  }

  reassembledSG(sg: ScatterGather): void {
    if (!this.chosen) return;
    this.messages?.reassembledSG(sg);
    const i = sg.info();
    const [n] = sg.lengths();
    const o = this.owner;
    if (o.formats.has('transcript') && i.skip !== 0) o.files.append(this.chosen.transcript, `\n[${i.skip < 0 ? 'unknown number of' : i.skip} bytes not captured]\n`);
    if (n === 0) return;
    const bytes = sg.fetch(n);
    if (o.formats.has('raw')) o.files.append(this.chosen.names[i.dir], bytes);
    if (o.formats.has('transcript')) {
      const ci = sg.captureInfo(0);
      const who = i.dir === 0 ? `${this.chosen.record.client} → ${this.chosen.record.server}` : `${this.chosen.record.server} → ${this.chosen.record.client}`;
      const head = i.dir !== this.lastDir ? `\n=== ${new Date((ci.tsSec * 1e9 + ci.tsNsec) / 1e6).toISOString()} ${i.dir === 0 ? 'client' : 'server'} ${who} (frame ${ci.frame})\n` : '';
      this.lastDir = i.dir;
      o.files.append(this.chosen.transcript, head + escapeText(bytes));
    }
  }

  reassemblyComplete(_ctx: AssemblerContext, _reason: CloseReason): boolean {
    this.messages?.reassemblyComplete();
    if (!this.chosen) this.owner.ended(this.id);
    return true;
  }
}

/** Fragment frames held for the slice: as many datagrams as the decoder holds, twice its bytes (frames carry their headers, and duplicates). */
const HELD_DATAGRAMS = DEFAULT_DEFRAG.maxDatagrams;
const HELD_FRAGMENT_BYTES = 2 * DEFAULT_DEFRAG.maxBytes;

/** A kept frame, and the input and interface it came from. */
export interface SliceFrame {
  tsSec: number;
  tsNsec: number;
  origLen: number;
  linkType: number;
  ifIndex: number;
  /** Which input (0, 1, …). */
  file: number;
}

/**
 * A file written through a 1 MiB buffer: the slices get a record per frame, and a write call per
 * record was a system call per frame.
 */
class BufferedFile {
  private readonly buf = Buffer.allocUnsafe(1 << 20);
  private used = 0;
  private fd: number | null = null;

  constructor(private readonly path: string) {}

  append(c: Uint8Array): void {
    if (this.used + c.length > this.buf.length) this.flush();
    if (c.length > this.buf.length) return this.writeOut(c);
    this.buf.set(c, this.used);
    this.used += c.length;
  }

  close(): void {
    this.flush();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private flush(): void {
    if (this.used === 0) return;
    this.writeOut(this.buf.subarray(0, this.used));
    this.used = 0;
  }

  private writeOut(b: Uint8Array): void {
    this.fd ??= openSync(this.path, 'a');
    for (let w = 0; w < b.length; ) w += writeSync(this.fd, b, w, b.length - w);
  }
}

/** The pcap and pcapng slices: the chosen flows' original frames, in capture order. */
export class SliceWriter {
  private pcap: PcapWriter | null = null;
  private pcapng: PcapngWriter | null = null;
  private readonly ifaces = new Map<string, number>();
  private pcapLink = -1;
  private readonly pcapFile: BufferedFile;
  private readonly pcapngFile: BufferedFile;
  /** The interface of the last frame written (frames come in runs of one): its pcapng id. */
  private lastFile = -1;
  private lastIf = -1;
  private lastId = -1;
  packetsWritten = 0;

  constructor(
    dir: string,
    private readonly formats: Set<ExportFormat>,
    /** The description of input `file`'s interface `ifIndex` (its snap length and name), if the input had one. */
    private readonly describe: (file: number, ifIndex: number) => InterfaceInfo | undefined,
  ) {
    this.pcapFile = new BufferedFile(join(dir, 'flows.pcap'));
    this.pcapngFile = new BufferedFile(join(dir, 'flows.pcapng'));
  }

  /** Everything written goes to the files. */
  close(): void {
    this.pcapFile.close();
    this.pcapngFile.close();
  }

  write(f: SliceFrame, data: Uint8Array): void {
    if (this.formats.has('pcapng')) {
      // the buffered file copies each record: the writers build them in one reused buffer
      this.pcapng ??= new PcapngWriter((c) => this.pcapngFile.append(c), 'weft export', { scratch: true });
      if (f.file !== this.lastFile || f.ifIndex !== this.lastIf) {
        const key = `${f.file}:${f.ifIndex}`;
        let id = this.ifaces.get(key);
        if (id === undefined) {
          const iface = this.describe(f.file, f.ifIndex);
          id = this.pcapng.addInterface({ linkType: f.linkType, snapLen: iface?.snapLen, name: iface?.name });
          this.ifaces.set(key, id);
        }
        this.lastFile = f.file;
        this.lastIf = f.ifIndex;
        this.lastId = id;
      }
      this.pcapng.packet(this.lastId, f.tsSec, f.tsNsec, data, f.origLen);
    }
    if (this.formats.has('pcap')) {
      if (!this.pcap) {
        this.pcapLink = f.linkType;
        this.pcap = new PcapWriter((c) => this.pcapFile.append(c), { linkType: f.linkType, nanoseconds: true, snapLen: Math.max(this.describe(f.file, f.ifIndex)?.snapLen ?? 0, 262144), scratch: true });
      } else if (f.linkType !== this.pcapLink)
        throw new ExportError(`the chosen flows use two link types (${this.pcapLink} and ${f.linkType}): pcap holds one; export as pcapng instead`);
      this.pcap.packet(f.tsSec, f.tsNsec, data, f.origLen);
    }
    this.packetsWritten++;
  }
}

/**
 * Where pass 2 sends what goes into files shared by all flows: the slice's frames (their
 * interfaces are described by the reader, which writes the slice: SliceWriter), HTTP messages for
 * the HAR.
 */
export interface ContentSinks {
  frame(f: SliceFrame, data: Uint8Array): void;
  /** An HTTP message of chosen connection `id`, for the HAR. */
  message: ((m: MessageRecord, id: number) => void) | null;
  /** A connection or conversation that is not chosen has ended (a sharded worker's merger forgets its number). */
  ended?(id: number): void;
}

/** Pass 2: the stream factory, and each chosen flow's files (its frames and messages to `sinks`). Exported for tests. */
export class ContentWriter implements StreamFactory {
  currentConnection = -1;
  readonly files: Files;

  constructor(
    readonly dir: string,
    readonly formats: Set<ExportFormat>,
    protected readonly chosen: Map<number, Chosen>,
    private readonly sinks: ContentSinks,
    protected readonly chosenUdp: Map<number, ChosenUdp> = new Map(),
  ) {
    this.files = new Files(dir);
  }

  /** A UDP datagram of conversation `id` (pass 2's UdpTable numbers them as pass 1's did): its frame is the conversation's; a chosen one's payload is written. */
  udpDatagram(id: number, dir: 0 | 1, payload: Uint8Array, ci: CaptureInfo): void {
    this.currentConnection = id;
    const c = this.chosenUdp.get(id);
    if (!c) return;
    if (this.formats.has('raw') && payload.length > 0) this.files.append(c.names[dir], payload);
    if (this.formats.has('transcript')) {
      const who = dir === 0 ? `${c.record.client} → ${c.record.server}` : `${c.record.server} → ${c.record.client}`;
      this.files.append(c.transcript, `\n=== ${new Date((ci.tsSec * 1e9 + ci.tsNsec) / 1e6).toISOString()} ${dir === 0 ? 'client' : 'server'} ${who} (frame ${ci.frame}, datagram of ${payload.length} bytes)\n${escapeText(payload)}`);
    }
  }

  new(_net: NetFlow, _f: TcpFlow): Stream {
    return new ExportStream(this);
  }

  chosenConnection(id: number): Chosen | undefined {
    return this.chosen.get(id);
  }

  ended(id: number): void {
    this.sinks.ended?.(id);
  }

  /** HAR's message stream for a chosen connection (none without har). */
  messagesFor(c: Chosen | undefined, id: number): MessageStream | null {
    const message = this.sinks.message;
    return c && message ? new MessageStream([httpPlugin], (m: MessageRecord) => message(m, id), null, {}, c.record) : null;
  }

  /** IP fragments held by the decoder, by datagram, until the datagram completes (their frames are part of the flow). */
  private readonly fragments = new Map<string, { p: Frame; file: number }[]>();
  /** Bytes of frames held in `fragments`: bounded like the decoder's own fragment store (a datagram the decoder gave up on is never completed here either). */
  private fragmentBytes = 0;

  /** After a packet was assembled: keep its original frame if it belongs to a chosen connection. */
  frame(p: CapturedPacket, d: DecodedPacket | null, file: number): void {
    if (!this.formats.has('pcap') && !this.formats.has('pcapng')) return;
    const key = d && (d.fragmentHeld || d.reassembled) ? `${d.ipVersion} ${d.src.join('.')} ${d.dst.join('.')} ${d.ipId}` : '';
    if (d?.fragmentHeld) {
      let list = this.fragments.get(key);
      if (!list) this.fragments.set(key, (list = []));
      list.push({ p: { ...p, buf: copyBytes(p.buf, p.offset, p.offset + p.capLen), offset: 0 }, file });
      this.fragmentBytes += p.capLen;
      while (this.fragments.size > HELD_DATAGRAMS || this.fragmentBytes > HELD_FRAGMENT_BYTES) this.dropHeld(this.fragments.keys().next().value!);
      return;
    }
    const held = d?.reassembled ? this.fragments.get(key) : undefined;
    if (held) this.dropHeld(key);
    if (!this.chosen.has(this.currentConnection) && !this.chosenUdp.has(this.currentConnection)) return;
    for (const f of held ?? []) this.write(f.p, f.file);
    this.write(p, file);
  }

  private dropHeld(key: string): void {
    for (const f of this.fragments.get(key) ?? []) this.fragmentBytes -= f.p.capLen;
    this.fragments.delete(key);
  }

  /** Held fragment frames, for tests. */
  get heldFragments(): { datagrams: number; bytes: number } {
    return { datagrams: this.fragments.size, bytes: this.fragmentBytes };
  }

  private write(p: Frame, file: number): void {
    this.sinks.frame({ tsSec: p.tsSec, tsNsec: p.tsNsec, origLen: p.origLen, linkType: p.linkType, ifIndex: p.ifIndex, file }, p.buf.subarray(p.offset, p.offset + p.capLen));
  }
}

/** Runs an export; throws ExportError (or the source's error) having left nothing behind. */
export async function exportFlows(req: ExportRequest, onProgress?: (p: ExportProgress) => void, signal?: AbortSignal): Promise<ExportResult> {
  const formats = new Set(req.formats);
  if (formats.size === 0) throw new ExportError(`choose at least one format: ${EXPORT_FORMATS.join(', ')}`);
  for (const f of formats) if (!(EXPORT_FORMATS as readonly string[]).includes(f)) throw new ExportError(`unknown format '${f}' (formats: ${EXPORT_FORMATS.join(', ')})`);
  if (req.files.includes('-') && [...formats].some((f) => f !== 'jsonl' && f !== 'csv')) throw new ExportError('standard input can be read once: from a pipe, only jsonl and csv can be exported');
  const keep = req.ids ? new Set(req.ids) : null;
  const keys = req.keys ? new Set(req.keys) : null;
  let filter: ReturnType<typeof compileFilter> | null = null;
  try {
    filter = req.filter?.trim() ? compileFilter(req.filter) : null;
  } catch (e) {
    throw new ExportError(`the filter: ${(e as Error).message}`);
  }
  const total = req.files.reduce((n, f) => n + (f === '-' ? 0 : sizeOf(f)), 0);
  const progress = (phase: ExportProgress['phase']): ReadOptions => ({ signal, onProgress: (p) => onProgress?.({ phase, bytesDone: p.bytesDone, bytesTotal: total }) });

  const { dir: dest, made } = exportFolder(req.out);
  const stage = mkdtempSync(join(dest, '.weft-export-'));
  try {
    // pass 1: the flows
    // UDP conversations are flows too: they take their numbers from the same counter (as in
    // weft flows and the app), so both passes count them whether or not any is chosen
    const records: Flow[] = [];
    const udps: UdpFlow[] = [];
    const picked = (id: number, client: string, server: string, firstSeen: number, facts: () => Parameters<NonNullable<typeof filter>>[0]) =>
      keep ? keep.has(id) : keys ? keys.has(flowKey(client, server, firstSeen)) : filter ? filter(facts()) : true;
    const threads = Math.max(1, req.threads ?? 1);
    // each engine thread holds its share of the limit (as weft flows --threads does)
    const share = shareOf(req.maxConnections || undefined, threads);
    // the packet of the capture that created each flow, by number: pass 2's threads know a chosen flow by it
    let createdAt = new Float64Array(1024);
    const pass1 = await runSharded<unknown>(req.files, {
      threads,
      task: { kind: 'flows', json: true, facts: false, idleSec: 600, policy: 'first', hostPolicies: [], maxConnections: share },
      read: progress('flows'),
      copied: true, // each line is parsed at once
      created: (id, key) => {
        if (id >= createdAt.length) createdAt = grownTo(createdAt, id + 1);
        createdAt[id] = key;
      },
      item: (id, kind, r, _i, from, to) => {
        // the line weft flows prints: the flow's record as JSON
        const line = idPrefix(true, id) + Buffer.from(r.text.buffer, r.text.byteOffset + from, to - from).toString('latin1');
        if (kind === TCP_FLOW) {
          const f = JSON.parse(line) as Flow;
          if (picked(f.id, f.client, f.server, f.firstSeen, () => flowFacts(f))) records.push(f);
        } else {
          const u = JSON.parse(line) as UdpFlow;
          if (picked(u.id, u.client, u.server, u.firstSeen, () => udpFacts(u))) udps.push(u);
        }
      },
    });
    if (signal?.aborted) throw new ExportError('export cancelled');
    const errors = pass1.errors.map((e) => e.message);
    if (keep) for (const id of keep) if (!records.some((r) => r.id === id) && !udps.some((u) => u.id === id)) throw new ExportError(`no flow #${id} in ${req.files.join(', ')}`);
    if (keys && records.length + udps.length < keys.size) throw new ExportError(`${keys.size - records.length - udps.length} of the chosen flows are not in ${req.files.join(', ')} any more (was a file changed?)`);

    // names: tcpflow's, with a connection counter when the same endpoints come again; UDP's after
    // "udp-" (a TCP connection may have the same endpoints)
    const namesOf = <T extends { id: number; client: string; server: string; vlan: number | null }>(flows: T[], prefix: string) => {
      const seen = new Map<string, number>();
      const out = new Map<number, Chosen<T>>();
      for (const r of flows.sort((a, b) => a.id - b.id)) {
        const key = `${r.client} ${r.server} ${r.vlan}`;
        const n = seen.get(key) ?? 0;
        seen.set(key, n + 1);
        const name = `${prefix}${tcpflowName(r.client, r.server, r.vlan, n)}`;
        out.set(r.id, { record: r, names: [name, `${prefix}${tcpflowName(r.server, r.client, r.vlan, n)}`], transcript: `transcript-${r.id}-${name}.txt` });
      }
      return out;
    };
    const chosen = namesOf(records, '');
    const chosenUdp = namesOf(udps, 'udp-');
    const all = [...records.map((r) => ({ id: r.id, tcp: r as Flow | null, udp: null as UdpFlow | null })), ...udps.map((u) => ({ id: u.id, tcp: null as Flow | null, udp: u as UdpFlow | null }))].sort((a, b) => a.id - b.id);
    const written = new Set<string>();
    const ids = (r: { id: number; client: string; server: string; firstSeen: number }, proto: number) => {
      const cid = communityId(addressBytes(endpointHost(r.client)), addressBytes(endpointHost(r.server)), proto, endpointPort(r.client), endpointPort(r.server));
      // Zeek's uids are random; Weft's are derived (the same capture exports the same uids)
      const uid = `C${createHash('sha1').update(`${cid} ${r.firstSeen} ${r.id}`).digest('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 17)}`;
      return [cid, uid] as const;
    };
    const conn = (e: (typeof all)[number]) => (e.tcp ? connRecord(e.tcp, ...ids(e.tcp, 6)) : udpConnRecord(e.udp!, ...ids(e.udp!, 17)));
    if (formats.has('jsonl')) {
      const files = new Files(stage);
      files.append('flows.jsonl', ''); // the file exists even when no flow was chosen
      for (const e of all) files.append('flows.jsonl', JSON.stringify(conn(e)) + '\n');
      files.closeAll();
      written.add('flows.jsonl');
    }
    if (formats.has('csv')) {
      const files = new Files(stage);
      files.append('flows.csv', CSV_COLUMNS.join(',') + '\r\n');
      for (const e of all) files.append('flows.csv', e.tcp ? csvRow(e.tcp) : udpCsvRow(e.udp!));
      files.closeAll();
      written.add('flows.csv');
    }

    // pass 2: bytes and frames of the chosen flows
    const content = ['raw', 'transcript', 'pcap', 'pcapng', 'har'].some((f) => formats.has(f as ExportFormat));
    let packets = 0;
    if (content && chosen.size + chosenUdp.size > 0) {
      const harName = `${basename(req.files[0]).replace(/\.(pcapng|pcap|cap)$/i, '')}.har`;
      const harFiles = new Files(stage);
      const har = formats.has('har') ? new HarWriter({ write: (s) => harFiles.append(harName, s) }, { name: 'weft', version: req.version ?? 'dev' }, `HTTP/1.x exchanges reassembled by weft from ${req.files.join(', ')}`) : null;
      // each chosen flow to the thread that owns its address pair, named by the packet that created it
      const owner = (r: Endpoints) => {
        const a = addressBytes(endpointHost(r.client));
        return pairHash(a.length === 16 ? 6 : 4, a, addressBytes(endpointHost(r.server))) % threads;
      };
      const entries = (m: Map<number, Chosen>, w: number): ChosenEntry[] =>
        [...m].filter(([, c]) => owner(c.record) === w).map(([id, c]) => [createdAt[id], c.names[0], c.names[1], c.transcript, c.record.client, c.record.server]);
      const interfaces = new Map<string, InterfaceInfo>();
      const slice = new SliceWriter(stage, formats, (file, ifIndex) => interfaces.get(`${file}:${ifIndex}`));
      const frame: SliceFrame = { tsSec: 0, tsNsec: 0, origLen: 0, linkType: 0, ifIndex: 0, file: 0 };
      // per result one view of its frame heads: nothing made per frame
      let heads: Float64Array | null = null;
      let headsOf: unknown = null;
      try {
        await runSharded<ExportExtra>(req.files, {
          threads,
          task: (w: number) => ({ kind: 'export' as const, stage, formats: [...formats], maxConnections: share, tcp: entries(chosen, w), udp: entries(chosenUdp, w) }),
          read: progress('content'),
          interfaces,
          copied: true, // the slice writers copy each frame into its record; a message is plain data
          item: (_id, kind, r, i, from, to) => {
            if (kind === FRAME) {
              if (headsOf !== r.text) {
                // the heads are float64s at 8-aligned offsets of the text (ResultWriter.bytes)
                heads = new Float64Array(r.text.buffer, r.text.byteOffset, r.text.byteLength >>> 3);
                headsOf = r.text;
              }
              const h = heads!;
              const at = from >>> 3;
              frame.tsSec = h[at];
              frame.tsNsec = h[at + 1];
              frame.origLen = h[at + 2];
              frame.linkType = h[at + 3];
              frame.ifIndex = h[at + 4];
              frame.file = h[at + 5];
              slice.write(frame, r.text.subarray(from + 8 * FRAME_HEAD, to));
            } else if (kind === HTTP_MESSAGE) har?.message(r.extra[i]!.message);
          },
        });
      } finally {
        slice.close(); // also when it failed: its descriptors are not left open (the stage folder goes)
      }
      if (signal?.aborted) throw new ExportError('export cancelled');
      har?.end();
      harFiles.closeAll();
      packets = slice.packetsWritten;
      for (const name of readdirSync(stage)) written.add(name);
    }

    // the manifest: what was read, with which settings, and for each flow its hashes, gaps and anomalies
    const manifest = {
      weft: req.version ?? 'dev',
      created: new Date().toISOString(),
      sources: req.files.map((f) => (f === '-' ? { path: '-' } : { path: f, bytes: statSync(f).size })),
      settings: { formats: [...formats], ids: req.ids ?? null, keys: req.keys ?? null, filter: req.filter ?? null, policy: 'first', idleSeconds: 600 },
      errors,
      packetsWritten: packets,
      flows: all.map(({ tcp: r, udp: u }) => {
        const f = (r ?? u)!;
        const names = r ? chosen.get(r.id)!.names : chosenUdp.get(u!.id)!.names;
        const common = {
          id: f.id,
          proto: r ? 'tcp' : 'udp',
          client: f.client,
          server: f.server,
          protocol: f.protocol,
          close: f.close,
          files: formats.has('raw') ? { c2s: f.bytes.c2s > 0 ? names[0] : null, s2c: f.bytes.s2c > 0 ? names[1] : null } : undefined,
        };
        return r
          ? { ...common, bytes: r.bytes, sha256: r.sha256, gaps: r.gapList, missedBytes: r.gaps, anomalies: r.anomaliesByDirection }
          : { ...common, datagrams: u!.packets, bytes: u!.bytes, sha256: u!.sha256 };
      }),
      files: [...written].sort(),
    };
    const mf = new Files(stage);
    mf.append('manifest.json', JSON.stringify(manifest, null, 2) + '\n');
    mf.closeAll();
    written.add('manifest.json');
    if (signal?.aborted) throw new ExportError('export cancelled');
    // all written: move into place
    for (const name of written) renameSync(join(stage, name), join(dest, name));
    rmSync(stage, { recursive: true, force: true });
    return { dir: dest, files: [...written].sort(), flows: records.length + udps.length, manifest: join(dest, 'manifest.json'), errors };
  } catch (e) {
    rmSync(stage, { recursive: true, force: true });
    if (made && dest !== req.out) rmdirQuiet(dest); // a folder of its own inside the one given
    throw e;
  }
}

/**
 * The folder an export writes into, which holds nothing else (and whether it was made for it):
 * `out` when it is new or empty, else a new folder inside it, `weft-export-YYYYMMDD-HHMMSS` (-2, -3… when taken). An
 * export never replaces a file (a manifest.json or flows.csv left there by someone else).
 */
export function exportFolder(out: string): { dir: string; made: boolean } {
  let st;
  try {
    st = statSync(out);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new ExportError(`${out}: ${(e as Error).message}`);
    mkdirSync(out, { recursive: true });
    return { dir: out, made: true };
  }
  if (!st.isDirectory()) throw new ExportError(`${out} is a file: give a folder to export into`);
  if (readdirSync(out).length === 0) return { dir: out, made: false };
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  for (let n = 1; ; n++) {
    const dir = join(out, `weft-export-${stamp}${n > 1 ? `-${n}` : ''}`);
    try {
      mkdirSync(dir);
      return { dir, made: true };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new ExportError(`cannot create ${dir}: ${(e as Error).message}`);
    }
  }
}

/** Removes a folder this export made, if it is still empty. */
function rmdirQuiet(dir: string): void {
  try {
    if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true });
  } catch {
    // gone already
  }
}

/** An input's size, or an ExportError naming it and saying what is wrong. */
function sizeOf(f: string): number {
  try {
    const s = statSync(f);
    if (!s.isFile()) throw new ExportError(`${f}: not a capture file (a directory or a device)`);
    return s.size;
  } catch (e) {
    if (e instanceof ExportError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new ExportError(`${f}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message}`);
  }
}
