/**
 * The app's flow table, kept in the engine's process: one row per connection, stored as columns
 * (typed arrays, strings in arrays) rather than an object per row, so a capture of a million
 * connections costs about 200 bytes a connection here, and filtering and sorting all rows makes
 * no object per row. The session asks for pages (query), never for the whole table.
 *
 *   row i = connection id i + 1 (ids are the engine's, in order of first packet)
 *   numbers:  firstSeen lastSeen │ packets bytes gaps ×2 │ state flags protocol conflicts
 *   strings:  client server (made once, when the row is made)
 *   sparse:   anomalies (rows that have any), gaps and conflicts to mark in the stream view
 *             (completed rows that have any), sha256 of completed rows (32 bytes each, in a column)
 *
 * Open connections are read from their FlowAccumulator (refresh() copies the engine's counters
 * into the columns for the rows that changed); a completed row keeps only numbers and the sparse
 * entries, never the connection's objects.
 */
import { addAnomalies, type FlowAccumulator, type UdpConversation } from '../../engine/flows';
import { grownTo } from '../../engine/util/bytes';
import type { Conflict, Gap, TCPFlowDirection } from '../../engine/reassembly';
import type { FlowPage, FlowQuery, FlowRow, FlowState } from '../../ipc/contract';
import { flowKey } from '../export/export';
import type { FlowTimeline } from '../../ipc/contract';
import { compileFilter, flowRate, STATE_ORDER, type FlowFacts, type SortKey } from '../pipeline/flow-query';

/** Gaps and conflicts of one direction, as the stream view marks them. */
export interface Marks {
  gaps: { offset: number; length: number; cause: string }[];
  conflicts: { offset: number; kept: number[]; other: number[]; frame: number }[];
}

const INFERRED = 1;
/** The row is a UDP conversation. */
const UDP = 2;

function marksOf(gaps: readonly Gap[], conflicts: readonly Conflict[]): Marks {
  return {
    gaps: gaps.map((g) => ({ offset: g.offset, length: g.length, cause: g.cause })),
    conflicts: conflicts.map((c) => ({ offset: c.offset, kept: Array.from(c.kept), other: Array.from(c.other), frame: c.frame })),
  };
}


/** Numbers per row in a RowBatch (FlowTable.rowColumns), and where the protocol is among them. */
const ROW_NUMS = 13;
const PROTO_NUM = 10;

/**
 * Rows of one table as plain data for another (the app's engine keeps its workers' rows in one
 * table: engine-worker.ts). `nums` holds ROW_NUMS numbers a row, `sha` 64 bytes; endpoints come
 * with a row's first batch only; protocols are indexes into `protocols`.
 */
export interface RowBatch {
  ids: Int32Array;
  nums: Float64Array;
  sha: Uint8Array;
  /** Endpoints of rows sent for the first time ([batch index, client, server]). */
  endpoints: [number, string, string][];
  /** Anomaly counts of rows that have any ([batch index, counts]). */
  anomalies: [number, Record<string, number>][];
  protocols: (string | null)[];
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export class FlowTable {
  /** Rows (connections seen). */
  size = 0;
  /** Bumped whenever rows are added or change (a query's cached order is for one version). */
  version = 0;
  private cap = 1024;
  private firstSeen = new Float64Array(this.cap);
  private lastSeen = new Float64Array(this.cap);
  private pk0 = new Float64Array(this.cap);
  private pk1 = new Float64Array(this.cap);
  private by0 = new Float64Array(this.cap);
  private by1 = new Float64Array(this.cap);
  private gp0 = new Float64Array(this.cap);
  private gp1 = new Float64Array(this.cap);
  private state = new Uint8Array(this.cap);
  private flags = new Uint8Array(this.cap);
  private proto = new Uint8Array(this.cap);
  private conflicts = new Uint32Array(this.cap);
  private ipVersion = new Uint8Array(this.cap);
  private sha = new Uint8Array(this.cap * 64);
  private readonly client: string[] = [];
  private readonly server: string[] = [];
  /** Server endpoints repeat (many clients, few servers): one string each. */
  private readonly servers = new Map<string, string>();
  /** Protocol names by number (0: none). */
  private readonly protoNames: (string | null)[] = [null];
  private readonly protoIndex = new Map<string, number>();
  /** Anomaly counts of rows that have any (both directions added up). */
  private readonly anomalies = new Map<number, Record<string, number>>();
  /** Stream marks of completed rows that have any, per direction. */
  private readonly marks = new Map<number, [Marks, Marks]>();
  /** Open connections, by row. */
  private readonly live = new Map<number, FlowAccumulator>();
  /** Stream anomalies of all rows added up (kept current as rows change). */
  readonly anomalyTotals: Record<string, number> = {};
  /** Connections by protocol, counted as protocols are found. */
  readonly protocols: Record<string, number> = {};
  private cache: { key: string; version: number; order: Int32Array } | null = null;

  /** A row for a connection's first packet. */
  open(f: FlowAccumulator): void {
    const i = f.id - 1;
    if (i >= this.cap) this.growTo(i + 1);
    if (i >= this.size) this.size = i + 1;
    const c = f.conn;
    this.client[i] = c.client;
    this.server[i] = this.serverString(c.server);
    this.ipVersion[i] = c.ipVersion;
    this.firstSeen[i] = c.firstSec + c.firstNsec / 1e9;
    this.live.set(i, f);
    this.version++;
  }

  /** One string per server endpoint (many clients, few servers). */
  private serverString(s: string): string {
    let srv = this.servers.get(s);
    if (srv === undefined) this.servers.set(s, (srv = s));
    return srv;
  }

  private growTo(n: number): void {
    this.firstSeen = grownTo(this.firstSeen, n);
    this.lastSeen = grownTo(this.lastSeen, n);
    this.pk0 = grownTo(this.pk0, n);
    this.pk1 = grownTo(this.pk1, n);
    this.by0 = grownTo(this.by0, n);
    this.by1 = grownTo(this.by1, n);
    this.gp0 = grownTo(this.gp0, n);
    this.gp1 = grownTo(this.gp1, n);
    this.state = grownTo(this.state, n);
    this.flags = grownTo(this.flags, n);
    this.proto = grownTo(this.proto, n);
    this.conflicts = grownTo(this.conflicts, n);
    this.ipVersion = grownTo(this.ipVersion, n);
    this.sha = grownTo(this.sha, n * 64);
    this.cap = this.firstSeen.length;
  }

  /** The columns a RowBatch carries, in its order (the arrays are replaced as the table grows: ask after growing). */
  private rowColumns(): (Float64Array | Uint8Array | Uint32Array)[] {
    return [this.firstSeen, this.lastSeen, this.pk0, this.pk1, this.by0, this.by1, this.gp0, this.gp1, this.state, this.flags, this.proto, this.conflicts, this.ipVersion];
  }

  /** Rows `ids` as a RowBatch; `first(id)`: the row has not been sent before (its endpoints go with it). */
  exportRows(ids: readonly number[], first: (id: number) => boolean): RowBatch {
    const n = ids.length;
    const b: RowBatch = { ids: Int32Array.from(ids), nums: new Float64Array(n * ROW_NUMS), sha: new Uint8Array(n * 64), endpoints: [], anomalies: [], protocols: this.protoNames.slice() };
    const v = b.nums;
    const cols = this.rowColumns();
    for (let k = 0; k < n; k++) {
      const id = ids[k];
      const i = id - 1;
      const o = k * ROW_NUMS;
      for (let j = 0; j < ROW_NUMS; j++) v[o + j] = cols[j][i];
      b.sha.set(this.sha.subarray(i * 64, i * 64 + 64), k * 64);
      if (first(id)) b.endpoints.push([k, this.client[i], this.server[i]]);
      const an = this.anomalies.get(i);
      if (an) b.anomalies.push([k, an]);
    }
    return b;
  }

  /**
   * A RowBatch from another table into this one, row `ids[k]` as row `idOf(ids[k])`. These rows'
   * counts (open connections, anomaly totals, protocols) are their own table's to keep.
   */
  importRows(b: RowBatch, idOf: (id: number) => number): void {
    const n = b.ids.length;
    const v = b.nums;
    const protos = b.protocols.map((name) => (name === null ? 0 : this.protocolIndex(name)));
    let max = 0;
    for (let k = 0; k < n; k++) max = Math.max(max, idOf(b.ids[k]));
    if (max > this.cap) this.growTo(max);
    if (max > this.size) this.size = max;
    for (const [k, client, server] of b.endpoints) {
      const i = idOf(b.ids[k]) - 1;
      this.client[i] = client;
      this.server[i] = this.serverString(server);
    }
    const cols = this.rowColumns();
    for (let k = 0; k < n; k++) {
      const i = idOf(b.ids[k]) - 1;
      const o = k * ROW_NUMS;
      for (let j = 0; j < ROW_NUMS; j++) cols[j][i] = v[o + j];
      // the protocol by its name here, not its number there
      this.proto[i] = protos[v[o + PROTO_NUM]];
      this.sha.set(b.sha.subarray(k * 64, k * 64 + 64), i * 64);
    }
    for (const [k, an] of b.anomalies) this.anomalies.set(idOf(b.ids[k]) - 1, an);
    this.version++;
  }

  /** A packet of connection `id` after its close (its final ACK): one more in its row. */
  packetAfterClose(id: number, dir: TCPFlowDirection): void {
    const i = id - 1;
    if (i < 0 || i >= this.size) return;
    if (dir === 0) this.pk0[i]++;
    else this.pk1[i]++;
    this.version++;
  }

  /** Copies an open (or just completed) connection's counters into its row. */
  refresh(f: FlowAccumulator): void {
    const i = f.id - 1;
    const c = f.conn;
    const [h0, h1] = c.halves;
    this.lastSeen[i] = c.lastSec + c.lastNsec / 1e9;
    this.pk0[i] = h0.packets;
    this.pk1[i] = h1.packets;
    this.by0[i] = h0.delivered;
    this.by1[i] = h1.delivered;
    this.gp0[i] = h0.gapBytes;
    this.gp1[i] = h1.gapBytes;
    this.flags[i] = c.directionInferred ? INFERRED : 0;
    this.conflicts[i] = h0.conflicts.length + h1.conflicts.length;
    if (h0.counts !== null || h1.counts !== null) this.setAnomalies(i, addAnomalies(h0.anomalyObject(), h1.anomalyObject()));
    this.version++;
  }

  private setAnomalies(i: number, an: Record<string, number>): void {
    const old = this.anomalies.get(i);
    const t = this.anomalyTotals;
    if (old) for (const k in old) t[k] -= old[k];
    for (const k in an) t[k] = (t[k] ?? 0) + an[k];
    this.anomalies.set(i, an);
  }

  setProtocol(f: FlowAccumulator, name: string): void {
    this.nameProtocol(f.id - 1, name);
    this.version++;
  }

  private nameProtocol(i: number, name: string): void {
    this.proto[i] = this.protocolIndex(name);
    this.protocols[name] = (this.protocols[name] ?? 0) + 1;
  }

  private protocolIndex(name: string): number {
    let p = this.protoIndex.get(name);
    if (p === undefined) {
      p = this.protoNames.length;
      this.protoNames.push(name);
      this.protoIndex.set(name, p);
    }
    return p;
  }

  /** The connection ended: its row keeps its final numbers, digests and marks; the connection is let go. */
  complete(f: FlowAccumulator): void {
    this.refresh(f);
    const i = f.id - 1;
    this.state[i] = STATE_ORDER.indexOf(f.close!);
    this.putDigest(i, 0, f.digest(0));
    this.putDigest(i, 1, f.digest(1));
    const [h0, h1] = f.conn.halves;
    if (h0.gaps.length + h1.gaps.length + h0.conflicts.length + h1.conflicts.length > 0) this.marks.set(i, [marksOf(h0.gaps, h0.conflicts), marksOf(h1.gaps, h1.conflicts)]);
    this.live.delete(i);
    this.version++;
  }

  /**
   * Row `i`'s digest of direction `d`, from its 64 hex digits (decoded by Buffer.write into the
   * rows' digest bytes; the view is remade when they grow).
   */
  private putDigest(i: number, d: 0 | 1, hex: string): void {
    if (this.shaView === null || this.shaView.buffer !== this.sha.buffer) this.shaView = Buffer.from(this.sha.buffer, this.sha.byteOffset, this.sha.byteLength);
    this.shaView.write(hex, i * 64 + d * 32, 32, 'hex');
  }
  private shaView: Buffer | null = null;

  /** A row for a UDP conversation's first datagram (its counters follow in udpDatagram). */
  openUdp(c: UdpConversation): void {
    const i = c.id - 1;
    if (i >= this.cap) this.growTo(i + 1);
    if (i >= this.size) this.size = i + 1;
    this.client[i] = c.client;
    this.server[i] = this.serverString(c.server);
    this.ipVersion[i] = c.ipVersion;
    this.firstSeen[i] = c.firstSec + c.firstNsec / 1e9;
    this.flags[i] = UDP;
    this.openUdpCount++;
    this.version++;
  }

  /** A UDP conversation's datagram: its row's counters (and protocol, once named). */
  udpDatagram(c: UdpConversation): void {
    const i = c.id - 1;
    this.lastSeen[i] = c.lastSec + c.lastNsec / 1e9;
    this.pk0[i] = c.packets0;
    this.pk1[i] = c.packets1;
    this.by0[i] = c.bytes0;
    this.by1[i] = c.bytes1;
    if (c.protocol !== null && this.proto[i] === 0) this.nameProtocol(i, c.protocol);
    this.version++;
  }

  /** A UDP conversation ended: its state and digests. */
  completeUdp(c: UdpConversation, sha0: string, sha1: string): void {
    const i = c.id - 1;
    this.state[i] = STATE_ORDER.indexOf(c.close!);
    this.putDigest(i, 0, sha0);
    this.putDigest(i, 1, sha1);
    this.openUdpCount--;
    this.version++;
  }

  private openUdpCount = 0;

  /** Open connections and UDP conversations. */
  get openCount(): number {
    return this.live.size + this.openUdpCount;
  }

  has(id: number): boolean {
    return id >= 1 && id <= this.size && this.client[id - 1] !== undefined;
  }

  /** Gaps and conflicts of a direction, for the stream view. */
  marksOf(id: number, dir: 0 | 1): Marks {
    const i = id - 1;
    const f = this.live.get(i);
    if (f) {
      const h = f.conn.halves[dir];
      return marksOf(h.gaps, h.conflicts);
    }
    return this.marks.get(i)?.[dir] ?? { gaps: [], conflicts: [] };
  }

  /** The flow's name whatever the session's numbering (export's flowKey: endpoints and first time). */
  key(id: number): string {
    const i = id - 1;
    return flowKey(this.client[i], this.server[i], this.firstSeen[i]);
  }

  /** Row `id` is a UDP conversation. */
  isUdp(id: number): boolean {
    return (this.flags[id - 1] & UDP) !== 0;
  }

  protocolOf(id: number): string | null {
    return this.protoNames[this.proto[id - 1]];
  }

  /** Row `id` as the contract's FlowRow (one object, for a page). */
  row(id: number): FlowRow {
    const i = id - 1;
    const st = STATE_ORDER[this.state[i]];
    return {
      id,
      client: this.client[i],
      server: this.server[i],
      ipVersion: this.ipVersion[i],
      firstSeen: this.firstSeen[i],
      lastSeen: this.lastSeen[i],
      packets: { c2s: this.pk0[i], s2c: this.pk1[i] },
      bytes: { c2s: this.by0[i], s2c: this.by1[i] },
      gaps: { c2s: this.gp0[i], s2c: this.gp1[i] },
      state: st,
      directionInferred: (this.flags[i] & INFERRED) !== 0,
      anomalies: { ...(this.anomalies.get(i) ?? {}) },
      conflicts: this.conflicts[i],
      sha256: st === 'open' ? null : { c2s: this.hex(i, 0), s2c: this.hex(i, 1) },
      protocol: this.protoNames[this.proto[i]],
      transport: this.flags[i] & UDP ? 'udp' : 'tcp',
    };
  }

  private hex(i: number, d: number): string {
    let s = '';
    for (let b = 0; b < 32; b++) s += HEX[this.sha[i * 64 + d * 32 + b]];
    return s;
  }

  /**
   * A page of rows in the query's order. The order of all matching rows is computed once per
   * (filter, sort, version) over the columns — an array of row numbers sorted by a column, no
   * object per row — and pages are sliced from it. Throws the filter's Error on a bad filter.
   */
  query(q: FlowQuery): FlowPage {
    const key = `${q.filter ?? ''}|${q.sort?.key ?? 'id'}|${q.sort?.dir ?? 'asc'}`;
    let order: Int32Array;
    if (this.cache && this.cache.key === key && this.cache.version === this.version) order = this.cache.order;
    else {
      order = this.order(q);
      this.cache = { key, version: this.version, order };
    }
    const rows: FlowRow[] = [];
    const end = Math.min(order.length, q.offset + q.limit);
    for (let k = q.offset; k < end; k++) rows.push(this.row(order[k] + 1));
    return { total: order.length, offset: q.offset, rows };
  }

  private order(q: FlowQuery): Int32Array {
    const filter = q.filter?.trim() ? compileFilter(q.filter) : null;
    const n = this.size;
    let order = new Int32Array(n);
    let m = 0;
    if (filter) {
      const cur = this.cursor();
      for (let i = 0; i < n; i++) {
        if (this.client[i] === undefined) continue;
        cur.i = i;
        if (filter(cur)) order[m++] = i;
      }
    } else for (let i = 0; i < n; i++) if (this.client[i] !== undefined) order[m++] = i;
    order = order.subarray(0, m);
    const sort = q.sort ?? { key: 'id' as SortKey, dir: 'asc' as const };
    if (sort.key === 'id') return sort.dir === 'asc' ? order : order.reverse();
    const sign = sort.dir === 'asc' ? 1 : -1;
    const num = this.numericKey(sort.key);
    if (num) {
      // ties by row number, so the order is stable across updates
      order.sort((a, b) => {
        const x = num[a];
        const y = num[b];
        return x < y ? -sign : x > y ? sign : a - b;
      });
      return order;
    }
    const str = this.stringKey(sort.key);
    order.sort((a, b) => {
      const x = str(a);
      const y = str(b);
      return x < y ? -sign : x > y ? sign : a - b;
    });
    return order;
  }

  /** The column a numeric sort key reads (computed columns filled for this sort). */
  private numericKey(key: SortKey): Float64Array | null {
    const n = this.size;
    const out = (f: (i: number) => number) => {
      const a = new Float64Array(n);
      for (let i = 0; i < n; i++) a[i] = f(i);
      return a;
    };
    switch (key) {
      case 'packets':
        return out((i) => this.pk0[i] + this.pk1[i]);
      case 'bytesC2s':
        return this.by0;
      case 'bytesS2c':
        return this.by1;
      case 'duration':
        return out((i) => this.lastSeen[i] - this.firstSeen[i]);
      case 'rate':
        return out((i) => flowRate(this.by0[i] + this.by1[i], this.lastSeen[i] - this.firstSeen[i]));
      case 'state':
        return out((i) => this.state[i]);
      case 'firstSeen':
        return this.firstSeen;
      case 'gaps':
        return out((i) => this.gp0[i] + this.gp1[i]);
      default:
        return null;
    }
  }

  private stringKey(key: SortKey): (i: number) => string {
    switch (key) {
      case 'client':
        return (i) => this.client[i];
      case 'server':
        return (i) => this.server[i];
      default:
        return (i) => this.protoNames[this.proto[i]] ?? '~'; // unknown after every name
    }
  }

  /**
   * The capture's timeline: how many of the flows matching `filter` started in each of `bins`
   * equal slices of time from the first packet to the last, and how many were active (between
   * their first and last packet) in each. Throws the filter's Error on a bad filter.
   */
  timeline(bins: number, filter?: string): FlowTimeline {
    const f = filter?.trim() ? compileFilter(filter) : null;
    const cur = this.cursor();
    let from = Infinity;
    let to = -Infinity;
    // the rows kept, in one typed array sized once (not a growing array: this runs about once a second while a file loads)
    const rows = new Int32Array(this.size);
    let m = 0;
    for (let i = 0; i < this.size; i++) {
      if (this.client[i] === undefined) continue;
      cur.i = i;
      if (f && !f(cur)) continue;
      rows[m++] = i;
      if (this.firstSeen[i] < from) from = this.firstSeen[i];
      if (this.lastSeen[i] > to) to = this.lastSeen[i];
    }
    const starts = new Array<number>(bins).fill(0);
    const delta = new Array<number>(bins + 1).fill(0);
    if (m === 0) return { from: 0, to: 0, starts, active: new Array<number>(bins).fill(0) };
    const span = Math.max(to - from, 1e-6);
    const bin = (t: number) => Math.min(bins - 1, Math.floor(((t - from) / span) * bins));
    for (const i of rows.subarray(0, m)) {
      const a = bin(this.firstSeen[i]);
      starts[a]++;
      delta[a]++;
      delta[bin(this.lastSeen[i]) + 1]--;
    }
    const active: number[] = [];
    for (let k = 0, n = 0; k < bins; k++) active.push((n += delta[k]));
    return { from, to, starts, active };
  }

  /** One reused FlowFacts over the columns, pointed at a row by setting `i`. */
  private cursor(): FlowFacts & { i: number } {
    const t = this;
    return {
      i: 0,
      get id() {
        return this.i + 1;
      },
      get client() {
        return t.client[this.i];
      },
      get packets() {
        return t.pk0[this.i] + t.pk1[this.i];
      },
      get bytesC2s() {
        return t.by0[this.i];
      },
      get bytesS2c() {
        return t.by1[this.i];
      },
      get duration() {
        return t.lastSeen[this.i] - t.firstSeen[this.i];
      },
      get start() {
        return t.firstSeen[this.i];
      },
      get server() {
        return t.server[this.i];
      },
      get protocol() {
        return t.protoNames[t.proto[this.i]];
      },
      get state(): FlowState {
        return STATE_ORDER[t.state[this.i]];
      },
      get directionInferred() {
        return (t.flags[this.i] & INFERRED) !== 0;
      },
      get transport(): 'tcp' | 'udp' {
        return t.flags[this.i] & UDP ? 'udp' : 'tcp';
      },
      get gapBytes() {
        return t.gp0[this.i] + t.gp1[this.i];
      },
      get conflicts() {
        return t.conflicts[this.i];
      },
      anomaly(name: string) {
        return t.anomalies.get(this.i)?.[name] ?? 0;
      },
    };
  }
}
