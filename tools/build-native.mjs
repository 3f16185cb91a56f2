// Builds Weft's libpcap binding (native/weft-pcap, a Node-API addon) with node-gyp. Runs from
// `npm install` (prepare) and `npm run build:native`. It is optional, as in-process capture is:
// without libpcap's headers (libpcap-dev) or a C compiler the build fails, this says why and
// what to do, and the install carries on (capture through dumpcap needs no addon).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'native', 'weft-pcap');
let gyp;
try {
  gyp = createRequire(join(root, 'package.json')).resolve('node-gyp/bin/node-gyp.js');
} catch {
  console.warn('weft: node-gyp is not installed: in-process capture is unavailable (run npm install)');
  process.exit(0);
}
const args = [gyp, 'rebuild', '--silent'];
// node-gyp would download Node's headers; Debian's are in /usr (npm_config_nodedir=/usr)
if (process.env.npm_config_nodedir) args.push(`--nodedir=${process.env.npm_config_nodedir}`);
const r = spawnSync(process.execPath, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (r.status !== 0) {
  const why = /pcap\/pcap\.h|pcap\.h: No such file/.test(r.stderr + r.stdout) ? "libpcap's headers are missing (sudo apt-get install libpcap-dev)" : (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ');
  console.warn(`weft: the libpcap binding was not built: ${why}. In-process capture is unavailable; capture through dumpcap still works. Fix it, then: npm run build:native`);
  process.exit(process.argv.includes('--strict') ? 1 : 0);
}
