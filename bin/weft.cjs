#!/usr/bin/env node
// Launcher for the `weft` command. The CLI is bundled to out/cli/weft.cjs by `npm install`
// (the `prepare` script) or `npm run build:cli`.
const path = require('node:path');
const target = path.join(__dirname, '..', 'out', 'cli', 'weft.cjs');
try {
  require.resolve(target);
} catch {
  process.stderr.write("weft: the CLI is not built yet: run 'npm run build:cli' (npm install does it)\n");
  process.exit(2);
}
require(target);
