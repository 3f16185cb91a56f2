// Writes DIR/EXPECTED.json from tshark for every capture in DIR: per TCP connection (tshark's
// tcp.stream) the client (sender of the first packet), the server, the first packet's time, the
// packet count, and per direction the bytes Follow TCP Stream reassembles and their sha256 —
// the same fields test/fixtures/real/EXPECTED.json carries. Used for the synthetic fixtures;
// tshark is needed only here, never by the tests.
//
//   node tools/tshark-expect.mjs test/fixtures/synthetic
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const PREFS = ['-o', 'tcp.analyze_sequence_numbers:TRUE', '-o', 'tcp.check_checksum:FALSE', '-o', 'tcp.desegment_tcp_streams:TRUE', '-o', 'tcp.try_heuristic_first:FALSE'];
const dir = process.argv[2];
if (!dir) {
  console.error('usage: node tools/tshark-expect.mjs DIR');
  process.exit(2);
}
const tshark = (args) => execFileSync('tshark', ['-n', ...PREFS, ...args], { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] });
const last = (v) => v.split(',').pop();
const endpoint = (ip, port) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

const out = {};
for (const file of readdirSync(dir).filter((f) => /\.pcap(ng)?$/.test(f)).sort()) {
  const path = join(dir, file);
  const rows = tshark(['-r', path, '-Y', 'tcp', '-T', 'fields', '-E', 'separator=\t', '-e', 'tcp.stream', '-e', 'frame.time_epoch', '-e', 'ip.src', '-e', 'ipv6.src', '-e', 'tcp.srcport', '-e', 'ip.dst', '-e', 'ipv6.dst', '-e', 'tcp.dstport', '-e', 'frame.protocols'])
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t'));
  const streams = new Map();
  for (const [stream, ts, s4, s6, sp, d4, d6, dp, protocols] of rows) {
    const id = Number(last(stream));
    let c = streams.get(id);
    if (!c) {
      const src = last(s6 || s4);
      const dst = last(d6 || d4);
      c = { client: endpoint(src, last(sp)), server: endpoint(dst, last(dp)), first_ts: ts, packets: 0, link_stack: protocols.replace(/:tcp(:.*)?$/, '') };
      streams.set(id, c);
    }
    c.packets++;
  }
  const connections = [];
  for (const [id, c] of [...streams].sort((a, b) => a[0] - b[0])) {
    const text = tshark(['-r', path, '-q', '-z', `follow,tcp,raw,${id}`]);
    const parts = [[], []];
    let inData = false;
    for (const line of text.split('\n')) {
      if (/^Node 1:/.test(line)) {
        inData = true;
        continue;
      }
      if (!inData || /^=+$/.test(line)) continue;
      const server = line.startsWith('\t');
      const hex = line.trim();
      if (/^[0-9a-f]+$/.test(hex)) parts[server ? 1 : 0].push(Buffer.from(hex, 'hex'));
    }
    const [c2s, s2c] = parts.map((p) => Buffer.concat(p));
    const sha = (b) => createHash('sha256').update(b).digest('hex');
    connections.push({ client: c.client, server: c.server, first_ts: c.first_ts, packets: c.packets, bytes_c2s: c2s.length, bytes_s2c: s2c.length, sha256_c2s: sha(c2s), sha256_s2c: sha(s2c), stream: id, link_stack: c.link_stack });
  }
  const info = tshark(['-r', path, '-T', 'fields', '-e', 'frame.number']).trim().split('\n').length;
  out[file] = { connections, packets_total: String(info) };
  console.log(`${file}: ${connections.length} connection(s), ${connections.map((c) => `${c.bytes_c2s}/${c.bytes_s2c} B`).join(', ')}`);
}
writeFileSync(join(dir, 'EXPECTED.json'), JSON.stringify(out, null, 1) + '\n');
