// Builds the CLI bundle (and the renderer, if missing) so tests run the same `weft` a user gets
// from `npm install`.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export default function setup(): void {
  const root = join(__dirname, '..');
  execFileSync(process.execPath, [join(root, 'tools', 'build-cli.mjs')], { stdio: 'inherit' });
  if (!existsSync(join(root, 'out', 'renderer', 'index.html')))
    execFileSync(process.execPath, [join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), 'build'], { cwd: root, stdio: 'inherit' });
}
