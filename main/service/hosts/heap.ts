/**
 * How much garbage the processes that run the engine let pile up. V8 lets its old generation grow
 * to about four times what is alive before it collects; a capture that keeps replacing
 * connections (a SYN flood at the table's limit, a port scan) makes old garbage at that pace, and
 * peak memory was then four times the live connections. A growing factor of 2 halves that peak
 * for no measurable loss of speed (docs/decisions.md has the numbers). Called first thing by the
 * CLI and the engine's child and utility processes.
 */
import { setFlagsFromString } from 'node:v8';

export function preferSmallHeap(): void {
  setFlagsFromString('--heap-growing-percent=100');
}

/**
 * V8 flags for the engine's own process (set when it starts: V8 reads them when the heap is made).
 * A 16 MiB semi-space: the engine's main thread takes in its workers' rows (a few short-lived
 * objects per connection). 64 MiB was chosen when the whole engine ran on that thread; with the
 * workers, a 500,000-connection load with 64 MiB peaked at 861–883 MB for 4 % less time than with
 * 16 MiB (670–687 MB); the default gave 651–656 MB and 10 % more time (docs/decisions.md).
 */
export const ENGINE_V8_FLAGS = ['--max-semi-space-size=16'];
