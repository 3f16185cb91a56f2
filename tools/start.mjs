// `npm start`: runs the desktop app with Electron's binary, or says plainly why it cannot and
// what to do instead (the same app in a browser: weft serve). Electron's own launcher would try
// a download and end in "failed to install correctly" with a stack trace.
//   node tools/start.mjs [--check]   (--check: say whether the binary is there, run nothing)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const check = process.argv.includes('--check');
const pkgDir = dirname(require.resolve('electron/package.json'));

/** The Electron executable, or null when it is not installed. */
function binary() {
  const pathFile = join(pkgDir, 'path.txt');
  const name = existsSync(pathFile) ? readFileSync(pathFile, 'utf8') : 'electron';
  const dist = process.env.ELECTRON_OVERRIDE_DIST_PATH || join(pkgDir, 'dist');
  const full = join(dist, name);
  return existsSync(pathFile) || process.env.ELECTRON_OVERRIDE_DIST_PATH ? (existsSync(full) ? full : null) : null;
}

let exe = binary();
if (exe === null && !check && !process.env.ELECTRON_OVERRIDE_DIST_PATH) {
  // one try at Electron's own download (the npm install may have been offline)
  process.stderr.write("weft: Electron's binary is not installed; trying to download it once…\n");
  spawnSync(process.execPath, [join(pkgDir, 'install.js')], { stdio: ['ignore', 'ignore', 'ignore'] });
  exe = binary();
}
if (exe === null) {
  process.stderr.write(
    [
      "weft: the desktop app needs Electron's binary, which is not installed here (its download failed or was skipped:",
      '  no network, or ELECTRON_SKIP_BINARY_DOWNLOAD).',
      'The same app runs in a browser:  npx weft serve [FILE.pcap]   then open the URL it prints.',
      'To install Electron later: delete node_modules/electron and run npm install (with network).',
      '',
    ].join('\n'),
  );
  process.exit(1);
}
if (check) {
  process.stdout.write(`${exe}\n`);
  process.exit(0);
}
const child = spawn(exe, ['.'], { stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 0)));
