/**
 * Saving captures: the pcapng writer alone and as a ring of files, read back with our reader;
 * and captures piped in through standard input (weft capture --stdin, weft flows -).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PcapngFileWriter } from '../../main/sources/capture-file-writer';
import { captureFiles, expectedReal, REAL } from '../helpers/fixtures';
import { readAll } from '../helpers/read-all';

const dir = mkdtempSync(join(tmpdir(), 'weft-writer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const BIN = join(__dirname, '..', '..', 'bin', 'weft.cjs');

describe('pcapng file writer', () => {
  it('writes one file that reads back packet for packet', () => {
    const src = readAll(new Uint8Array(readFileSync(join(REAL, 'zeek-http-get.pcap'))));
    const f = join(dir, 'one.pcapng');
    const w = new PcapngFileWriter(f, { linkType: 1, interfaceName: 'eth9' });
    for (const p of src.packets) w.packet(p.tsSec, p.tsNsec, p.data, p.origLen);
    w.close();
    const back = readAll(new Uint8Array(readFileSync(f)));
    expect(back.error).toBeNull();
    expect(back.interfaces[0]).toMatchObject({ linkType: 1, name: 'eth9' });
    expect(back.packets.map((p) => [p.tsSec, p.tsNsec, Buffer.from(p.data).toString('hex')])).toEqual(
      src.packets.map((p) => [p.tsSec, p.tsNsec, Buffer.from(p.data).toString('hex')]),
    );
  });

  it('rotates a ring of files, keeping the newest, each about the size asked', () => {
    const base = join(dir, 'ring.pcapng');
    const w = new PcapngFileWriter(base, { linkType: 101, maxFileBytes: 20_000, maxFiles: 3 });
    const data = new Uint8Array(1000);
    for (let i = 0; i < 200; i++) {
      data[0] = i;
      w.packet(1_800_000_000 + i, 0, data, 1000);
    }
    w.close();
    const files = readdirSync(dir).filter((n) => n.startsWith('ring_')).sort();
    expect(files).toHaveLength(3);
    expect(w.files.map((f) => f.split('/').at(-1))).toEqual(files);
    expect(files[0]).toMatch(/^ring_\d{5}\.pcapng$/);
    for (const f of files) expect(statSync(join(dir, f)).size).toBeLessThan(20_000 + 1100);
    // the newest files hold the newest packets, in order, with nothing missing between them
    const seen = files.flatMap((f) => readAll(new Uint8Array(readFileSync(join(dir, f)))).packets.map((p) => p.data[0]));
    expect(seen.at(-1)).toBe(199);
    expect(seen).toEqual(seen.map((_, i) => seen[0] + i));
  });
});

describe('captures piped in', () => {
  const file = join(REAL, 'zeek-irc-5k-line.pcap');
  const exp = expectedReal()['zeek-irc-5k-line.pcap'].connections;
  const run = (args: string[]) => spawnSync(process.execPath, [BIN, ...args], { input: readFileSync(file), encoding: 'utf8' });

  it('weft flows - reads standard input', () => {
    const r = run(['flows', '--json', '-']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(exp.length);
  });

  it('weft capture --stdin prints each flow and saves what came in', () => {
    const saved = join(dir, 'piped.pcapng');
    const r = run(['capture', '--stdin', '--json', '--write', saved]);
    expect(r.status).toBe(0);
    const flows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(flows).toHaveLength(exp.length);
    const shas = new Set(flows.flatMap((f) => [f.sha256.c2s, f.sha256.s2c]));
    for (const e of exp) expect(shas.has(e.sha256_c2s) && shas.has(e.sha256_s2c)).toBe(true);
    const back = readAll(new Uint8Array(readFileSync(saved)));
    expect(back.packets).toHaveLength(118);
  });

  it('weft capture --stdin on several engine threads: the same lines and the same saved file as on one, table and JSON', () => {
    // all the real fixtures as one pcap stream: a capture of many connections, piped in
    const all = captureFiles(REAL).filter((f) => f.endsWith('.pcap') && readFileSync(join(REAL, f)).readUInt32LE(0) === 0xa1b2c3d4 && readFileSync(join(REAL, f)).readUInt32LE(20) === 1);
    const parts = all.map((f) => readFileSync(join(REAL, f)));
    const input = Buffer.concat([parts[0], ...parts.slice(1).map((b) => b.subarray(24))]);
    const piped = (args: string[]) => {
      const r = spawnSync(process.execPath, [BIN, 'capture', '--stdin', ...args], { input, encoding: 'latin1' });
      expect(r.status, r.stderr).toBe(0);
      return r.stdout;
    };
    const one = join(dir, 'one.pcapng');
    const three = join(dir, 'three.pcapng');
    const json = piped(['--json', '--threads', '1', '--write', one]);
    expect(piped(['--json', '--threads', '3', '--write', three])).toBe(json);
    expect(json.trim().split('\n').length).toBeGreaterThan(60);
    expect(readFileSync(three).equals(readFileSync(one))).toBe(true);
    expect(piped(['--threads', '2'])).toBe(piped(['--threads', '1']));
    // the default is one thread per core: the same lines
    expect(piped(['--json'])).toBe(json);
  });

  it('a capture that needs an interface says how to pick one', () => {
    const r = spawnSync(process.execPath, [BIN, 'capture'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/capture needs -i INTERFACE \(see weft devices\) or --stdin/);
  });
});

// The check runs the CLI as `nobody`, which needs to be able to read the checkout (not so in a
// clone under a private 0700 temporary folder).
const nobodyCanRead =
  process.getuid?.() === 0 && spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'test', '-r', BIN]).status === 0 &&
  spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'test', '-r', join(__dirname, '..', '..', 'out', 'cli', 'weft.cjs')]).status === 0;

describe.runIf(nobodyCanRead)('without capture privileges', () => {
  it('weft capture says it is not permitted and how to fix it, either way of capturing', () => {
    // drop to nobody for this one command (setpriv is in util-linux); this machine's dumpcap has no rights of its own
    const capture = (via: string) => spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, 'capture', '-i', 'lo', '--duration', '1', '--via', via], { encoding: 'utf8' });
    const inProcess = capture('libpcap');
    expect(inProcess.status).toBe(2);
    expect(inProcess.stderr).toMatch(/cannot capture on lo: .*(not permitted|permission)/i);
    expect(inProcess.stderr).toMatch(/Fix: install dumpcap \(sudo apt install wireshark-common.*usermod -aG wireshark/);
    const helper = capture('dumpcap');
    expect(helper.status).toBe(2);
    expect(helper.stderr).toMatch(/cannot capture on lo: You do not have permission to capture on device "lo"/);
    expect(helper.stderr).toMatch(/Fix: add yourself to the 'wireshark' group/);
  });
});
