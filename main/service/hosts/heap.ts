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
 * A 64 MiB young generation: the engine makes a few short-lived objects per connection, and with
 * the default one a 500,000-connection load spent 15 % of its time in the collector; 64 MiB made
 * the load 5-6 % faster for about 70 MB more peak RSS (docs/decisions.md).
 */
export const ENGINE_V8_FLAGS = ['--max-semi-space-size=64'];
