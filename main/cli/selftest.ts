import { selfTest, selfTestRoot, type SelfTestResult } from '../service/selftest';
import type { BufferedOut } from './io';

/**
 * `weft selftest [--json]`: every direction of the shipped captures against tshark's stored
 * reassembly, one row each, and a verdict line. Returns the exit status: 0 when every direction
 * is byte-exact or a listed policy difference, 1 when one is not, 2 when no captures are found.
 */
export async function selfTestCommand(json: boolean, out: BufferedOut, err: BufferedOut): Promise<number> {
  const root = selfTestRoot();
  if (root === null) {
    err.line('weft: no self-test captures found (looked for selftest/ beside the app and test/fixtures/ in the source tree)');
    err.line('  Fix: run it from an installed Weft or a clone of the repository, or set WEFT_SELFTEST_DIR to a folder holding real/EXPECTED.json');
    return 2;
  }
  const r = await selfTest(root);
  if (json) out.line(JSON.stringify(r));
  else printTable(r, out);
  return r.failed > 0 ? 1 : 0;
}

const VERDICT = { match: 'ok', known: 'known', differs: 'DIFFERS', missing: 'MISSING' } as const;

function printTable(r: SelfTestResult, out: BufferedOut): void {
  out.line(`Weft self-test: ${r.captures} captures from ${r.root}, each direction against tshark's Follow TCP Stream`);
  const conn = (x: { client: string; server: string }) => `${x.client} → ${x.server}`;
  const wFile = Math.max(...r.rows.map((x) => x.file.length), 4);
  const wConn = Math.max(...r.rows.map((x) => conn(x).length), 10);
  out.line(`${'set'.padEnd(9)} ${'file'.padEnd(wFile)}  ${'connection'.padEnd(wConn)}  dir  ${'tshark B'.padStart(10)}  ${'weft B'.padStart(10)}  verdict`);
  for (const x of r.rows) {
    const weft = x.weftBytes < 0 ? '-' : String(x.weftBytes);
    out.line(`${x.set.padEnd(9)} ${x.file.padEnd(wFile)}  ${conn(x).padEnd(wConn)}  ${x.dir}  ${String(x.tsharkBytes).padStart(10)}  ${weft.padStart(10)}  ${VERDICT[x.verdict]}`);
  }
  for (const x of r.rows.filter((y) => y.verdict === 'known')) out.line(`known: ${x.file} ${conn(x)} ${x.dir}: ${x.reason}`);
  out.line(`${r.rows.length} directions: ${r.match} byte-exact with tshark, ${r.known} known difference${r.known === 1 ? '' : 's'} (a decided policy, listed above), ${r.failed} failed`);
}
