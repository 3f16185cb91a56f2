/**
 * Small resources for what components fetch from the main side when something changes, so no
 * component writes its own in-flight flags and stale-answer checks:
 *
 *  - SerialLoader: a load run one at a time (a list's visible page); asked again while one runs,
 *    it runs once more afterwards — the latest wish only. A load that has not come back within
 *    `patienceMs` no longer holds the next one up.
 *  - Fetched<T>: a value fetched for a key (a flow's messages, the capture devices); an answer for
 *    a key that is no longer the current one is dropped.
 */
import type { Result } from '../../../main/ipc/contract';

export class SerialLoader {
  private running = false;
  private since = 0;
  private again = false;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly load: () => Promise<void>,
    private readonly patienceMs = 3000,
  ) {}

  request(): void {
    if (this.running && Date.now() - this.since < this.patienceMs) {
      this.again = true;
      this.timer ??= setTimeout(() => {
        this.timer = null;
        if (this.again) this.request();
      }, this.patienceMs + 50);
      return;
    }
    void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    this.again = false;
    const mine = (this.since = Date.now());
    try {
      await this.load();
    } finally {
      // a load overtaken after running out of patience leaves the flags to the newer one
      if (this.since === mine) this.running = false;
    }
    if (this.since === mine && this.again) {
      this.again = false;
      void this.run();
    }
  }
}

export class Fetched<T> {
  value = $state.raw<T | null>(null);
  error = $state<string | null>(null);
  loading = $state(false);
  private key: string | null = null;

  /** Fetches for `key` unless it is the key already fetched (`force`: fetch again anyway). */
  async load(key: string, fetch: () => Promise<Result<T>>, force = false): Promise<void> {
    if (key === this.key && !force) return;
    this.key = key;
    this.loading = true;
    const r = await fetch();
    if (this.key !== key) return; // asked for something else meanwhile
    this.loading = false;
    if (r.ok) {
      this.value = r.value;
      this.error = null;
    } else this.error = r.error;
  }
}
