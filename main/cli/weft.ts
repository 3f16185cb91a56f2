// Entry point of the built CLI (out/cli/weft.cjs, started by bin/weft.cjs).
import { run } from './main';
import { preferSmallHeap } from '../service/hosts/heap';

preferSmallHeap();

// Exit explicitly once stdout and stderr have drained: a libpcap handle from the `cap` package
// whose open() failed (a bad filter, a missing device) crashes the process when it is torn down
// at a natural exit (docs/decisions.md).
const exit = (code: number) => process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));

run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then(exit, (e: unknown) => {
  process.stderr.write(`weft: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
  exit(70);
});
