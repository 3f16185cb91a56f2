/**
 * One engine worker of the app (app-worker.ts runs it on the ring): the whole recording pipeline
 * — decode, defragment, reassemble, rows, spool, packet log, protocols — for the connections
 * whose packets it is given, numbered in its own order. It answers the requests about its own
 * connections (stream content, messages, search, packets, laid-out rows, frames) and, after each
 * batch, sends its changed rows, its new connections' packets and its counts to the engine's
 * main thread (engine-worker.ts), which numbers connections capture-wide and keeps every row in
 * one table for the queries.
 */
import type { CapturedPacket } from '../../engine/formats';
import { UdpTable } from '../../engine/flows';
import type { FrameFound, PacketPage, StreamRows } from '../../ipc/contract';
import { NODE_HASHES } from '../pipeline/hashes';
import { hostPolicies } from '../pipeline/host-policy';
import { PacketPipeline } from '../pipeline/packet-pipeline';
import { ownedBy } from '../shards/ring';
import type { BatchTarget } from '../shards/batch';
import type { FromWorker, ToWorker } from './engine-protocol';
import { flowMessages } from './flow-messages';
import type { RowBatch } from './flow-table';
import { PacketLog } from './packet-log';
import { SessionRecorder } from './session-recorder';
import { Spool } from './spool';
import { Layouts, marksOfDirection } from './stream-layout';

export interface AppTaskSpec {
  kind: 'app';
  spoolParent?: string;
  idleSec: number;
  /** This worker's share of the connection limit, and of the buffered pages. */
  maxConnections: number;
  maxBufferedPagesTotal: number;
}

/** A worker's counts, sent with each batch (the engine adds up every worker's). */
export interface ShardCounts {
  tcpPackets: number;
  /** The decoder's anomaly counters (PacketDecoder's names, in order). */
  decode: Float64Array;
  /** Stream anomalies of its rows, added up. */
  streamAnomalies: Record<string, number>;
  protocols: Record<string, number>;
  open: number;
  bufferedPages: number;
  limitClosed: number;
  spoolBytes: number;
}

/**
 * What a worker sends of the batches it read since it last sent (app-worker.ts says when): in
 * parts of at most PART_ROWS rows, the first with the new connections.
 */
export interface ShardBatch {
  t: 'batch';
  /** Batches read so far. */
  through: number;
  /** Packets of the capture read so far (every connection made so far was made at or before it). */
  packets: number;
  /** The capture packet (1, 2, …) at which each connection numbered since it last sent was made, in its number order. */
  created: Float64Array;
  rows: RowBatch;
  /** The last part: the counts as they are now. */
  counts: ShardCounts | null;
}

/** A request about one of the worker's connections, numbered as the worker numbers them. */
export type ShardRequest = Extract<ToWorker, { t: 'read' | 'messages' | 'search' | 'packets' | 'rows' | 'frame' }>;

/** Rows per part of a batch's results (the end of an input ends every connection at once). */
export const PART_ROWS = 16384;

export class EngineShard implements BatchTarget {
  file = 0;
  readonly spool: Spool;
  private readonly recorder: SessionRecorder;
  private readonly pipe: PacketPipeline;
  private readonly packets: PacketLog;
  private readonly layouts: Layouts;
  /** Rows changed since the last batch was taken. */
  private changed = new Set<number>();
  /** Rows sent before (rows are numbered in order: all below this). */
  private sentBelow = 1;
  private seenIds = 1;
  private created: number[] = [];
  /** Decoder counters saved around a packet every worker decodes (only worker 0 counts its anomalies). */
  private readonly saved: Float64Array;

  constructor(
    spec: AppTaskSpec,
    private readonly index: number,
    workers: number,
  ) {
    this.spool = new Spool(spec.spoolParent);
    const spool = this.spool;
    const mark = (id: number) => this.changed.add(id);
    this.recorder = new SessionRecorder(spool, mark);
    const table = this.recorder.table;
    const pipe = new PacketPipeline(this.recorder.factory, { idleSec: spec.idleSec, assembler: { maxConnections: spec.maxConnections, maxBufferedPagesTotal: spec.maxBufferedPagesTotal } });
    this.pipe = pipe;
    pipe.owns = ownedBy(index, workers);
    this.packets = new PacketLog(spool.dir);
    pipe.assembler.observer = this.packets;
    pipe.udp = new UdpTable({
      hashes: NODE_HASHES,
      nextId: () => pipe.assembler.pool.takeId(),
      maxConversations: pipe.assembler.opts.maxConnections,
      opened: (c) => {
        table.openUdp(c);
        mark(c.id);
      },
      datagram: (c, dir, payload, ci) => {
        this.packets.datagram(c.id, dir, payload.length, ci);
        if (payload.length > 0) spool.append(c.id, dir, payload, 0, payload.length, ci.frame, ci.tsSec, ci.tsNsec);
        table.udpDatagram(c);
        mark(c.id);
      },
      complete: (c) => {
        table.completeUdp(c, c.digest(0, NODE_HASHES), c.digest(1, NODE_HASHES));
        mark(c.id);
      },
    });
    pipe.assembler.afterClose = (id, dir, flags, payload) => this.recorder.afterClose(id, dir, flags, payload, pipe.assembler.now);
    this.recorder.packetNo = () => pipe.packets;
    this.recorder.factory.payloadOfPacket = () => pipe.last?.payloadLength ?? 0;
    this.layouts = new Layouts(spool);
    this.saved = new Float64Array(pipe.decoder.anomalies.values.length);
  }

  packet(k: number, p: CapturedPacket, shared: boolean): void {
    const pipe = this.pipe;
    pipe.packets = k - 1;
    if (shared && this.index !== 0) {
      // every worker decodes it; its decode anomalies are counted once, by worker 0
      const counters = pipe.decoder.anomalies.values;
      this.saved.set(counters);
      pipe.packet(p, true);
      counters.set(this.saved);
    } else pipe.packet(p, shared);
    for (const next = pipe.assembler.pool.newId(); this.seenIds < next; this.seenIds++) this.created.push(k);
  }

  passBy(k: number, tsSec: number, tsNsec: number): void {
    this.pipe.packets = k - 1;
    this.pipe.passBy(tsSec, tsNsec);
  }

  tick(nowSec: number): void {
    this.pipe.tick(nowSec);
  }

  inputEnd(): void {
    this.pipe.end();
    this.ended = true;
  }

  /** An end of input was read since the last take (what it completed is sent at once). */
  ended = false;

  get quietBeforeSec(): number {
    return this.pipe.quietBeforeSec;
  }

  get quietUntilPacket(): number {
    return this.pipe.quietUntilPacket;
  }

  /** What changed since the last take, `through` batches and `packets` packets of the capture read, in parts (each sent by `post` as it is made). */
  take(through: number, packets: number, post: (b: ShardBatch) => void): void {
    this.recorder.takeChanged();
    const ids = [...this.changed].sort((a, b) => a - b);
    this.changed.clear();
    const table = this.recorder.table;
    const sentBelow = this.sentBelow;
    const first = (id: number) => id >= sentBelow;
    for (let at = 0; ; at += PART_ROWS) {
      const part = ids.slice(at, at + PART_ROWS);
      const last = at + PART_ROWS >= ids.length;
      post({ t: 'batch', through, packets, created: at === 0 ? Float64Array.from(this.created) : new Float64Array(0), rows: table.exportRows(part, first), counts: last ? this.counts() : null });
      if (at === 0) this.created = [];
      if (last) break;
    }
    this.sentBelow = this.seenIds;
    this.ended = false;
  }

  private counts(): ShardCounts {
    const table = this.recorder.table;
    const a = this.pipe.assembler;
    return {
      tcpPackets: this.pipe.tcpPackets,
      decode: this.pipe.decoder.anomalies.values.slice(),
      streamAnomalies: { ...table.anomalyTotals },
      protocols: { ...table.protocols },
      open: table.openCount,
      bufferedPages: a.bufferedPages,
      limitClosed: a.stats.connectionsLimited,
      spoolBytes: this.spool.size,
    };
  }

  setLimit(maxConnections: number): void {
    this.pipe.assembler.opts.maxConnections = maxConnections;
  }

  setPolicies(rules: string[]): void {
    this.pipe.assembler.opts.policyFor = hostPolicies(rules);
  }

  /** Answers a request about connection `id` (this worker's number); throws why there is no answer. */
  answer(m: ShardRequest): Extract<FromWorker, { reqId: number }>['value'] {
    const table = this.recorder.table;
    const spool = this.spool;
    const known = (id: number) => {
      if (!table.has(id)) throw new Error(`no connection ${id}`);
    };
    switch (m.t) {
      case 'read': {
        const { id, dir, from, to } = m.range;
        known(id);
        const r = spool.read(id, dir, from, to);
        return { id, dir, from, data: Buffer.from(r.bytes).toString('base64'), length: r.length, provenance: r.provenance, ...table.marksOf(id, dir) };
      }
      case 'messages':
        known(m.id);
        return flowMessages(spool, m.id, table.protocolOf(m.id), (dir) => table.marksOf(m.id, dir).gaps);
      case 'search': {
        const q = m.search;
        known(q.id);
        const hit = spool.search(q.id, q.dir, Buffer.from(q.pattern, 'hex'), q.from, q.back);
        return hit && { ...hit, otherOffset: spool.offsetAtFrame(q.id, (q.dir ^ 1) as 0 | 1, hit.frame) };
      }
      case 'packets': {
        const q = m.range;
        known(q.id);
        const page: PacketPage = this.packets.read(q.id, q.from, q.count);
        for (const f of page.frame) page.at.push(spool.offsetAtFrame(q.id, 0, f), spool.offsetAtFrame(q.id, 1, f));
        return page;
      }
      case 'rows': {
        const q = m.rows;
        known(q.id);
        const l = this.layouts.get(q.id, q.view, q.wrap, () => [marksOfDirection(table.marksOf(q.id, 0)), marksOfDirection(table.marksOf(q.id, 1))], table.isUdp(q.id));
        const atRow = q.at ? l.rowOf(q.at.dir, q.at.offset) : null;
        // around the row asked for: a third of the page before it
        const from = atRow !== null && atRow >= 0 ? Math.max(0, atRow - Math.floor(q.count / 3)) : q.from;
        const rows: StreamRows = { id: q.id, view: q.view, wrap: l.wrap, total: l.rows, from, rows: l.read(from, q.count), atRow, bytes: [spool.lengthOf(q.id, 0), spool.lengthOf(q.id, 1)] };
        return rows;
      }
      case 'frame': {
        const found: FrameFound = this.packets.findFrame(m.frame, m.prefer);
        return found;
      }
    }
  }

  /** The worker is stopping: its files go. */
  dispose(): void {
    this.packets.close();
    this.spool.dispose();
  }
}
