/**
 * The engine's jobs — files read in order, live captures, exports — with their states, the queue
 * of files, and what cancels or holds each one. The engine worker does the work; this keeps the
 * bookkeeping in one place (the states a job goes through are the contract's Job['state']).
 *
 *   file:    queued → running ⇄ paused → done | failed | cancelled
 *   live:    queued → running → done (stopped) | failed
 *   export:  running → done | failed | cancelled
 */
import type { Job } from '../../ipc/contract';

export class JobRegistry {
  readonly jobs: Job[] = [];
  private readonly queue: Job[] = [];
  private readonly aborts = new Map<number, AbortController>();
  private readonly holds = new Map<number, { wait: Promise<void>; release: () => void }>();
  /** Something changed since the last delta. */
  changed = true;

  /** Registers a job (state as given). */
  add(id: number, kind: NonNullable<Job['kind']>, path: string, state: Job['state'] = 'queued'): Job {
    const job: Job = { id, kind, path, bytesDone: 0, bytesTotal: 0, packets: 0, state, error: null };
    this.jobs.push(job);
    this.changed = true;
    return job;
  }

  get(id: number): Job | undefined {
    return this.jobs.find((j) => j.id === id);
  }

  /** Queues a file to be read after those before it. */
  enqueue(job: Job): void {
    this.queue.push(job);
    this.changed = true;
  }

  /** Files queued and not cancelled. */
  get queued(): number {
    return this.queue.filter((j) => j.state !== 'cancelled').length;
  }

  /** The next queued file that was not cancelled meanwhile, or null. */
  next(): Job | null {
    for (let j = this.queue.shift(); j; j = this.queue.shift()) if (j.state !== 'cancelled') return j;
    return null;
  }

  /** An AbortSignal that cancel(id) fires, for the job's work. */
  signal(id: number): AbortSignal {
    const ac = new AbortController();
    this.aborts.set(id, ac);
    return ac.signal;
  }

  /** The job's work is over: it can no longer be cancelled. */
  finished(id: number): void {
    this.aborts.delete(id);
    this.changed = true;
  }

  /** Cancels a queued job at once, a running one through its signal (and lets a paused one go on to see it). */
  cancel(id: number): void {
    const j = this.get(id);
    if (j && j.state === 'queued') j.state = 'cancelled';
    this.aborts.get(id)?.abort();
    this.holds.get(id)?.release();
    this.changed = true;
  }

  /** Holds (or releases) a file being read; false if the job cannot be paused now. */
  pause(id: number, paused: boolean): boolean {
    const j = this.get(id);
    if (!j || (j.state !== 'running' && j.state !== 'paused' && j.state !== 'queued')) return false;
    if (paused && !this.holds.has(id)) {
      let release!: () => void;
      const wait = new Promise<void>((r) => (release = r));
      this.holds.set(id, {
        wait,
        release: () => {
          this.holds.delete(id);
          if (j.state === 'paused') j.state = 'running';
          this.changed = true;
          release();
        },
      });
      j.state = 'paused';
    } else if (!paused) this.holds.get(id)?.release();
    this.changed = true;
    return true;
  }

  isPaused(id: number): boolean {
    return this.holds.has(id);
  }

  /** Resolves when the job is not held (at once if it is not). */
  async whileHeld(id: number): Promise<void> {
    const h = this.holds.get(id);
    if (h) await h.wait;
  }

  /** Cancels every job's work (the engine is stopping). */
  abortAll(): void {
    for (const a of this.aborts.values()) a.abort();
  }

  /** Copies of the jobs, for a delta. */
  snapshot(): Job[] {
    return this.jobs.map((j) => ({ ...j }));
  }
}
