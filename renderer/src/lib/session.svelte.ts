/**
 * Session state for the renderer: stats, jobs and a throughput history from the pushed deltas,
 * and a version number that tells the flows table to fetch its visible page again. Rows are never
 * all held here: the table asks for the page it shows (paged queries), as raw state.
 */
import type { EngineNote, Job, SessionDelta, SessionStats, WeftApi } from '../../../main/ipc/contract';

export class SessionState {
  stats = $state<SessionStats | null>(null);
  jobs = $state.raw<Job[]>([]);
  /** Bytes per second, last 60 deltas (for the sparkline). */
  history = $state.raw<number[]>([]);
  /** Bumped whenever rows changed: the table refetches its page. */
  version = $state(0);
  error = $state<string | null>(null);
  /** The engine stopped on its own and was restarted: shown until dismissed (a later stop shows again). */
  engineNote = $state<EngineNote | null>(null);
  private dismissedRestarts = 0;
  private off: (() => void) | null = null;

  constructor(readonly api: WeftApi) {}

  start(): void {
    this.off = this.api.onDelta((d: SessionDelta) => {
      this.stats = d.stats;
      this.jobs = d.jobs;
      this.history = [...this.history.slice(-59), d.stats.throughput];
      this.noteEngine(d.engine);
      if (d.changed > 0) this.version++;
    });
    void this.api.getState({}).then((r) => {
      if (r.ok) {
        this.stats = r.value.stats;
        this.jobs = r.value.jobs;
        this.noteEngine(r.value.engine);
        this.version++;
      }
    });
  }

  private noteEngine(n: EngineNote | undefined): void {
    if (!n) this.engineNote = null;
    else if (n.restarts > this.dismissedRestarts && (this.engineNote?.restarts !== n.restarts || this.engineNote.why !== n.why)) this.engineNote = n;
  }

  dismissEngineNote(): void {
    this.dismissedRestarts = this.engineNote?.restarts ?? this.dismissedRestarts;
    this.engineNote = null;
  }

  stop(): void {
    this.off?.();
  }

  async open(path: string): Promise<void> {
    const r = await this.api.openCapture({ path });
    this.error = r.ok ? null : r.error;
  }
}
