/**
 * What the engine records for the app: every connection as a row of the FlowTable (filled while
 * packets come, final when it completes), every delivered byte in the spool with its provenance.
 * It is the FlowFactory's listener: the flow model (main/engine/flows) is the same the CLI uses,
 * so a row and `weft flows` agree field for field.
 */
import { AfterCloseWindow, FlowFactory, type FlowAccumulator } from '../../engine/flows';
import type { TCPFlowDirection } from '../../engine/reassembly';
import { NODE_HASHES } from '../pipeline/hashes';
import type { Spool } from './spool';
import { FlowTable } from './flow-table';

export class SessionRecorder {
  readonly factory: FlowFactory;
  readonly table = new FlowTable();
  /** Connections that changed since the last takeChanged() (each once). */
  private dirty: FlowAccumulator[] = [];
  /** Which packets after a close count in a row, as `weft flows` counts them (AfterCloseWindow). */
  private readonly late = new AfterCloseWindow(() => {});
  /** The capture's packet count (the pipeline's), for the after-close windows. */
  packetNo: () => number = () => 0;

  constructor(
    readonly spool: Spool,
    /** Told the number of each row that changes (the app's engine worker sends those rows on: engine-shard.ts). */
    private readonly changedRow: (id: number) => void,
  ) {
    const touch = (f: FlowAccumulator) => {
      if (f.tag === true) return;
      f.tag = true;
      this.dirty.push(f);
      this.changedRow(f.id);
    };
    this.factory = new FlowFactory({
      hashes: NODE_HASHES,
      listener: {
        opened: (f) => {
          this.table.open(f);
          touch(f);
        },
        changed: touch,
        piece: (f, dir: TCPFlowDirection, buf, off, len, ci) => spool.append(f.id, dir, buf, off, len, ci.frame, ci.tsSec, ci.tsNsec),
        protocol: (f, name) => this.table.setProtocol(f, name),
        complete: (f) => {
          this.table.complete(f);
          this.changedRow(f.id);
          f.tag = null; // already final: a later refresh would change nothing
          this.late.closed(f, this.packetNo());
        },
      },
    });
  }

  /** A packet a tombstone absorbed (Assembler.afterClose): into its row's count while its window is open. */
  afterClose(id: number, dir: TCPFlowDirection, flags: number, payloadLength: number, now: number): void {
    if (this.late.packet(id, dir, flags, payloadLength, now, this.packetNo()) === null) return;
    this.table.packetAfterClose(id, dir);
    this.changedRow(id);
  }

  /** Brings the rows of the connections that changed up to date. */
  takeChanged(): void {
    const d = this.dirty;
    this.dirty = [];
    for (const f of d) {
      if (f.tag !== true) continue; // completed since
      f.tag = null;
      this.table.refresh(f);
    }
  }
}
