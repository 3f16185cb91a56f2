// Runs the generator over many seeds, anomaly rates and both profiles and checks every
// direction Weft reassembles (`weft flows --json`) against the generator's sidecar. Prints one
// line per capture and the directions that differ; exits 1 if any does. Build first
// (`npm run build:cli`).
//
//   node tools/sidecar-sweep.mjs [--seeds 20] [--rates 0.02,0.12,0.3] [--profiles bulk,small]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const opt = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const seeds = Number(opt('seeds', '20'));
const rates = opt('rates', '0.02,0.12,0.3').split(',').map(Number);
const profiles = opt('profiles', 'bulk,small').split(',');
const CONNS = { bulk: 60, small: 400 };
const dir = mkdtempSync(join(tmpdir(), 'weft-sweep-'));
let captures = 0;
let directions = 0;
const wrong = [];
try {
  for (const profile of profiles)
    for (const rate of rates)
      for (let seed = 1; seed <= seeds; seed++) {
        const out = join(dir, `${profile}-${rate}-${seed}.pcap`);
        execFileSync(process.execPath, [join(root, 'test/bench/gen-pcap.mjs'), '--out', out, '--conns', String(CONNS[profile]), '--profile', profile, '--seed', String(seed), '--anomaly', String(rate)], { stdio: 'ignore' });
        const side = JSON.parse(readFileSync(out + '.json', 'utf8'));
        const text = execFileSync(process.execPath, [join(root, 'out/cli/weft.cjs'), 'flows', '--json', out], { encoding: 'utf8', maxBuffer: 1 << 30 });
        const flows = new Map(text.trim().split('\n').map((l) => JSON.parse(l)).filter((f) => f.proto === 'tcp').map((f) => [`${f.client}-${f.server}`, f]));
        let bad = 0;
        for (const c of side.conns) {
          const f = flows.get(c.dirs[0].key);
          for (const [i, d] of c.dirs.entries()) {
            directions++;
            const ours = f ? f.sha256[i === 0 ? 'c2s' : 's2c'] : null;
            if (ours !== d.sha256) {
              bad++;
              wrong.push(`${profile} rate ${rate} seed ${seed} conn ${c.id} ${d.dir}: weft ${f ? f.bytes[d.dir] : 'missing'} B, sidecar ${d.bytes} B`);
            }
          }
        }
        captures++;
        console.log(`${profile} anomaly ${rate} seed ${seed}: ${side.conns.length} connections, ${bad} directions differ`);
      }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`${captures} captures, ${directions} directions, ${directions - wrong.length} match the sidecar`);
for (const w of wrong) console.log('  ' + w);
process.exit(wrong.length ? 1 : 0);
