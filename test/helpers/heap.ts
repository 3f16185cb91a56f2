/**
 * Measures whether code allocates per operation: heap growth over `large` runs minus that over
 * `small` runs (the heap moves by a fixed ~256 KiB around any measurement), per extra run.
 * Needs gc: pass `--expose-gc`, or it is enabled here through V8 flags (tests).
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Runs a full garbage collection (enabling gc through V8 flags when the process lacks --expose-gc). */
export function collectGarbage(): void {
  let gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}

/** Heap in use after a full collection: what is really retained. */
export function retainedHeap(): number {
  collectGarbage();
  return getHeapStatistics().used_heap_size;
}

export function heapGrowth(run: (n: number) => void, small = 100_000, large = 1_000_000): { extraBytes: number; perOp: number } {
  let gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  run(small / 2); // let the optimiser settle first
  const growth = (n: number) => {
    gc!();
    const before = getHeapStatistics().used_heap_size;
    run(n);
    return getHeapStatistics().used_heap_size - before;
  };
  // Other work in the process (parallel test files) can grow the heap now and then: take the
  // smallest of three measurements; real per-operation allocation shows in all three.
  let extraBytes = Infinity;
  for (let i = 0; i < 3 && extraBytes >= 16 * 1024; i++) extraBytes = Math.min(extraBytes, growth(large) - growth(small));
  return { extraBytes, perOp: Math.max(0, extraBytes / (large - small)) };
}
