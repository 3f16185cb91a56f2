// Builds the CLI bundle once so CLI tests run the same `weft` a user gets from `npm install`.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export default function setup(): void {
  execFileSync(process.execPath, [join(__dirname, '..', 'tools', 'build-cli.mjs')], { stdio: 'inherit' });
}
