// Bundles the Node entry points (the `weft` CLI and the benchmark) into out/cli/ with esbuild.
// Runs from `npm install` (prepare), so it must be quick: about a second.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

await build({
  absWorkingDir: root,
  entryPoints: { weft: 'main/cli/weft.ts', bench: 'test/bench/bench.ts', 'engine-child': 'main/service/hosts/child-main.ts', 'shard-worker': 'main/service/shards/worker-main.ts', 'cap-probe': 'main/service/hosts/cap-probe.ts', 'engine-utility': 'main/service/hosts/utility-main.ts', 'ui-bench': 'test/bench/ui-bench.ts', 'live-child': 'test/live/live-child.ts', 'live-bench': 'test/bench/live-bench.ts' },
  outdir: 'out/cli',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: 'linked',
  external: ['electron', 'playwright-core'],
  define: { WEFT_VERSION: JSON.stringify(pkg.version) },
  logLevel: 'warning',
});
