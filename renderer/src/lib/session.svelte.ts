/**
 * Session state for the renderer: stats, jobs and a throughput history from the pushed deltas,
 * and a version number that tells the flows table to fetch its visible page again. Rows are never
 * all held here: the table asks for the page it shows (paged queries), as raw state.
 */
import type { Job, SessionDelta, SessionStats, WeftApi } from '../../../main/ipc/contract';

export class SessionState {
  stats = $state<SessionStats | null>(null);
  jobs = $state.raw<Job[]>([]);
  /** Bytes per second, last 60 deltas (for the sparkline). */
  history = $state.raw<number[]>([]);
  /** Bumped whenever rows changed: the table refetches its page. */
  version = $state(0);
  error = $state<string | null>(null);
  private off: (() => void) | null = null;

  constructor(readonly api: WeftApi) {}

  start(): void {
    this.off = this.api.onDelta((d: SessionDelta) => {
      this.stats = d.stats;
      this.jobs = d.jobs;
      this.history = [...this.history.slice(-59), d.stats.throughput];
      if (d.changed > 0) this.version++;
    });
    void this.api.getState({}).then((r) => {
      if (r.ok) {
        this.stats = r.value.stats;
        this.jobs = r.value.jobs;
        this.version++;
      }
    });
  }

  stop(): void {
    this.off?.();
  }

  async open(path: string): Promise<void> {
    const r = await this.api.openCapture({ path });
    this.error = r.ok ? null : r.error;
  }
}
