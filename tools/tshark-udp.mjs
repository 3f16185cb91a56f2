// Writes test/fixtures/UDP-EXPECTED.json from tshark: for each capture named on the command line
// (paths under test/fixtures), its UDP conversations as tshark dissects them — per conversation
// the two endpoints (A: the sender of the first datagram) and per direction the datagrams, the
// payload bytes and the sha256 of the payloads one after another. Frames tshark reassembled from
// IP fragments count once, as `-z conv,udp` counts them. tshark is needed only here.
//
//   node tools/tshark-udp.mjs test/fixtures/synthetic/s-udp-conversations.pcap test/fixtures/coverage/…
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..', 'test', 'fixtures');
const outPath = join(root, 'UDP-EXPECTED.json');
const out = existsSync(outPath) ? JSON.parse(readFileSync(outPath, 'utf8')) : {};
const last = (v) => v.split(',').pop();
const ep = (ip, port) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);
for (const file of process.argv.slice(2)) {
  const text = execFileSync('tshark', ['-n', '-r', file, '-Y', 'udp', '-T', 'fields', '-E', 'separator=\t', '-e', 'ip.src', '-e', 'ipv6.src', '-e', 'udp.srcport', '-e', 'ip.dst', '-e', 'ipv6.dst', '-e', 'udp.dstport', '-e', 'udp.payload'], { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] });
  const convs = new Map();
  for (const line of text.split('\n').filter(Boolean)) {
    const [s4, s6, sp, d4, d6, dp, payload] = line.split('\t');
    const src = ep(last(s6 || s4), last(sp));
    const dst = ep(last(d6 || d4), last(dp));
    const key = [src, dst].sort().join(' ');
    let c = convs.get(key);
    if (!c) convs.set(key, (c = { a: src, b: dst, parts: { ab: [], ba: [] } }));
    c.parts[src === c.a ? 'ab' : 'ba'].push(Buffer.from(last(payload ?? ''), 'hex'));
  }
  const sum = (parts) => {
    const all = Buffer.concat(parts);
    return { datagrams: parts.length, bytes: all.length, sha256: createHash('sha256').update(all).digest('hex') };
  };
  out[relative(root, file)] = [...convs.values()].map((c) => ({ a: c.a, b: c.b, ab: sum(c.parts.ab), ba: sum(c.parts.ba) }));
  console.log(`${file}: ${convs.size} UDP conversations`);
}
writeFileSync(outPath, JSON.stringify(out, null, 1) + '\n');
