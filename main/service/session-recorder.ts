/**
 * What the engine worker records for the app: every connection as a FlowRow that changes while
 * packets come (rows of changed connections are collected for the next delta), every delivered
 * byte in the spool with its provenance, and the gaps and conflicts to mark in the stream view.
 */
import { createHash, type Hash } from 'node:crypto';
import { formatEndpoint } from '../engine/decode';
import type { TcpHeader } from '../engine/decode/layers';
import type { AssemblerContext, CaptureInfo, CloseReason, ConnectionState, NetFlow, ScatterGather, Stream, StreamFactory, TCPFlowDirection, TcpFlow } from '../engine/reassembly';
import type { FlowRow } from '../ipc/contract';
import { FirstBytes } from '../engine/flows';
import type { Spool } from './spool';

class SessionStream implements Stream {
  conn!: ConnectionState;
  readonly row: FlowRow;
  /** The anomalies as last counted into the recorder's totals. */
  counted: Record<string, number> = {};
  private readonly hashes: [Hash, Hash] = [createHash('sha256'), createHash('sha256')];
  private dir: TCPFlowDirection = 0;
  /** Until the protocol is known (or cannot be): the first bytes of each direction. */
  private first: FirstBytes | null = new FirstBytes();
  private readonly onPiece = (buf: Uint8Array, off: number, len: number, ci: CaptureInfo) => {
    this.hashes[this.dir].update(buf.subarray(off, off + len));
    this.owner.spool.append(this.row.id, this.dir, buf, off, len, ci.frame, ci.tsSec, ci.tsNsec);
  };

  constructor(
    private readonly owner: SessionRecorder,
    row: FlowRow,
  ) {
    this.row = row;
  }

  attach(c: ConnectionState): void {
    this.conn = c;
  }

  accept(_t: TcpHeader, ci: CaptureInfo, dir: TCPFlowDirection): boolean {
    const r = this.row;
    if (dir === 0) r.packets.c2s++;
    else r.packets.s2c++;
    r.lastSeen = ci.tsSec + ci.tsNsec / 1e9;
    this.owner.touch(this);
    return true;
  }

  reassembledSG(sg: ScatterGather): void {
    const [n, kept] = sg.lengths();
    if (n - kept <= 0) return;
    this.dir = sg.info().dir;
    if (this.dir === 0) this.row.bytes.c2s += n - kept;
    else this.row.bytes.s2c += n - kept;
    sg.pieces(this.onPiece);
    if (this.first) this.detect(sg, n);
    this.owner.touch(this);
  }

  /** Names the protocol as soon as the first bytes tell (the table shows it while the flow is open). */
  private detect(sg: ScatterGather, n: number): void {
    const f = this.first!;
    f.add(this.dir, sg, n);
    if (!f.ready) return;
    const p = f.detect();
    if (p) this.owner.protocolOf(this, p.name);
    if (p || f.full) this.first = null;
  }

  reassemblyComplete(_ctx: AssemblerContext, reason: CloseReason): boolean {
    const p = this.first?.detect(); // fewer bytes than detection waits for
    if (p) this.owner.protocolOf(this, p.name);
    this.first = null;
    this.refresh();
    this.row.state = reason;
    this.row.sha256 = { c2s: this.hashes[0].digest('hex'), s2c: this.hashes[1].digest('hex') };
    this.owner.touch(this);
    this.owner.live.delete(this);
    return true;
  }

  /** Copies the engine's counters into the row (called when a delta is built). */
  refresh(): void {
    const h = this.conn.halves;
    const r = this.row;
    r.gaps = { c2s: h[0].gapBytes, s2c: h[1].gapBytes };
    const an: Record<string, number> = {};
    for (const x of h) for (const [k, v] of Object.entries(x.anomalyObject())) an[k] = (an[k] ?? 0) + v;
    r.anomalies = an;
    r.conflicts = h[0].conflicts.length + h[1].conflicts.length;
  }

  /** Gaps and conflicts of a direction, for the stream view. */
  marks(dir: 0 | 1): { gaps: { offset: number; length: number; cause: string }[]; conflicts: { offset: number; kept: number[]; other: number[]; frame: number }[] } {
    const h = this.conn.halves[dir];
    return {
      gaps: h.gaps.map((g) => ({ offset: g.offset, length: g.length, cause: g.cause })),
      conflicts: h.conflicts.map((c) => ({ offset: c.offset, kept: Array.from(c.kept), other: Array.from(c.other), frame: c.frame })),
    };
  }
}

export class SessionRecorder implements StreamFactory {
  private nextId = 1;
  private readonly dirty = new Set<SessionStream>();
  readonly live = new Set<SessionStream>();
  readonly byId = new Map<number, SessionStream>();
  /** Stream anomalies of all connections added up (kept current as rows change). */
  readonly anomalyTotals: Record<string, number> = {};

  constructor(readonly spool: Spool) {}

  new(net: NetFlow, f: TcpFlow, tcp: TcpHeader): Stream {
    void tcp;
    const row: FlowRow = {
      id: this.nextId++,
      client: formatEndpoint(net.ipVersion, f.senderIsClient ? net.src : net.dst, f.clientPort),
      server: formatEndpoint(net.ipVersion, f.senderIsClient ? net.dst : net.src, f.serverPort),
      ipVersion: net.ipVersion,
      firstSeen: 0,
      lastSeen: 0,
      packets: { c2s: 0, s2c: 0 },
      bytes: { c2s: 0, s2c: 0 },
      gaps: { c2s: 0, s2c: 0 },
      state: 'open',
      directionInferred: false,
      anomalies: {},
      conflicts: 0,
      sha256: null,
      protocol: null,
    };
    const s = new SessionStream(this, row);
    this.byId.set(row.id, s);
    this.live.add(s);
    return s;
  }

  /** Connections by protocol, counted as protocols are found. */
  readonly protocols: Record<string, number> = {};

  protocolOf(s: SessionStream, name: string): void {
    s.row.protocol = name;
    this.protocols[name] = (this.protocols[name] ?? 0) + 1;
  }

  touch(s: SessionStream): void {
    this.dirty.add(s);
  }

  /** Rows of every connection that changed since the last call. */
  takeChanged(): FlowRow[] {
    const rows: FlowRow[] = [];
    for (const s of this.dirty) {
      s.refresh();
      for (const [k, v] of Object.entries(s.counted)) this.anomalyTotals[k] = (this.anomalyTotals[k] ?? 0) - v;
      for (const [k, v] of Object.entries(s.row.anomalies)) this.anomalyTotals[k] = (this.anomalyTotals[k] ?? 0) + v;
      s.counted = s.row.anomalies;
      const r = s.row;
      r.firstSeen = s.conn.firstSec + s.conn.firstNsec / 1e9;
      r.directionInferred = s.conn.directionInferred;
      rows.push({ ...r, packets: { ...r.packets }, bytes: { ...r.bytes }, gaps: { ...r.gaps } });
    }
    this.dirty.clear();
    return rows;
  }

  marks(id: number, dir: 0 | 1) {
    return this.byId.get(id)?.marks(dir) ?? { gaps: [], conflicts: [] };
  }
}
