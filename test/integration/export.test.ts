/**
 * `weft export` and the export service: pcap / pcapng slices read back to the same per-direction
 * sha256 as the original, raw files hash to the flows' sha256 under tcpflow's names, gaps only in
 * the manifest, jsonl valid against docs/schemas/conn.schema.json, csv, selection by id and by
 * filter, and nothing left behind when an export fails or is cancelled.
 */
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exportFlows, ExportError, tcpflowName } from '../../main/service/export/export';
import { runFlows, type Flow } from '../../main/service/pipeline/flow-recorder';
import { captureFiles, expectedReal, REAL } from '../helpers/fixtures';

const ROOT = join(__dirname, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'weft-export-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(tmp, `e${n++}`);

async function flows(file: string): Promise<Flow[]> {
  const out: Flow[] = [];
  await runFlows([file], (f) => out.push(f));
  return out;
}
/** What a capture's flows are, independent of numbering: endpoints, first time, hashes. */
const shape = (fs: Flow[]) => fs.map((f) => `${f.client} ${f.server} ${f.firstSeen.toFixed(6)} ${f.sha256.c2s} ${f.sha256.s2c}`).sort();
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('export', () => {
  // every real capture with TCP data, except those with several link types (pcap holds one)
  const files = captureFiles(REAL);

  it('pcapng and pcap slices of every real capture read back to the same flows, byte for byte', async () => {
    let checked = 0;
    let mixed = 0;
    for (const f of files) {
      const original = (await flows(join(REAL, f))).filter((x) => x.bytes.c2s + x.bytes.s2c > 0);
      if (original.length === 0) continue;
      const out = fresh();
      const ids = original.map((x) => x.id);
      await exportFlows({ files: [join(REAL, f)], formats: ['pcapng'], out, ids });
      const back = await flows(join(out, 'flows.pcapng'));
      expect({ f, flows: shape(back.filter((x) => x.bytes.c2s + x.bytes.s2c > 0)) }).toEqual({ f, flows: shape(original) });
      try {
        const out2 = fresh();
        await exportFlows({ files: [join(REAL, f)], formats: ['pcap'], out: out2, ids });
        expect({ f, flows: shape((await flows(join(out2, 'flows.pcap'))).filter((x) => x.bytes.c2s + x.bytes.s2c > 0)) }).toEqual({ f, flows: shape(original) });
      } catch (e) {
        expect((e as Error).message).toMatch(/two link types .* export as pcapng instead/);
        mixed++;
      }
      checked++;
    }
    expect(checked).toBeGreaterThan(40);
    expect(mixed).toBeLessThan(3);
  }, 120_000);

  it('a slice holds every frame tshark gives its flows, the final ACK after a FIN included', async () => {
    const expected = expectedReal();
    let checked = 0;
    const short: string[] = [];
    for (const f of files) {
      const exp = expected[f];
      // fragments are frames of their own in a slice but one packet to tshark's stream count
      if (exp.connections.length === 0 || exp.connections.some((c) => (c as { ip_fragmented?: boolean }).ip_fragmented)) continue;
      const out = fresh();
      const r = await exportFlows({ files: [join(REAL, f)], formats: ['pcapng'], out });
      const written = (JSON.parse(readFileSync(r.manifest, 'utf8')) as { packetsWritten: number }).packetsWritten;
      const want = exp.connections.reduce((n, c) => n + c.packets, 0);
      if (written !== want) short.push(`${f}: ${written} frames, tshark ${want}`);
      checked++;
    }
    expect(short).toEqual([]);
    expect(checked).toBeGreaterThan(40);
  }, 120_000);

  it('into a folder that holds files: a new folder of its own inside it, nothing there replaced', async () => {
    const out = fresh();
    mkdirSync(out);
    writeFileSync(join(out, 'manifest.json'), 'mine');
    writeFileSync(join(out, 'flows.csv'), 'mine too');
    const file = join(REAL, 'zeek-http-get.pcap');
    const a = await exportFlows({ files: [file], formats: ['csv', 'jsonl'], out });
    const b = await exportFlows({ files: [file], formats: ['csv'], out });
    expect(a.dir).toMatch(new RegExp(`^${out}/weft-export-\\d{8}-\\d{6}(-\\d+)?$`));
    expect(b.dir).not.toBe(a.dir);
    expect(readFileSync(join(out, 'manifest.json'), 'utf8')).toBe('mine');
    expect(readFileSync(join(out, 'flows.csv'), 'utf8')).toBe('mine too');
    expect(readdirSync(a.dir).sort()).toEqual(['flows.csv', 'flows.jsonl', 'manifest.json']);
    expect(a.manifest).toBe(join(a.dir, 'manifest.json'));
    // an empty or new folder is used as it is
    const empty = fresh();
    mkdirSync(empty);
    expect((await exportFlows({ files: [file], formats: ['jsonl'], out: empty })).dir).toBe(empty);
    const fresher = join(fresh(), 'made', 'here');
    expect((await exportFlows({ files: [file], formats: ['jsonl'], out: fresher })).dir).toBe(fresher);
    // a file is no folder
    await expect(exportFlows({ files: [file], formats: ['jsonl'], out: join(out, 'manifest.json') })).rejects.toThrow(/is a file: give a folder/);
  });

  it('raw files: tcpflow names, contents hash to the flow sha256, gaps only in the manifest', async () => {
    const file = join(REAL, 'zeek-tcp-reassembly.pcap');
    const original = await flows(file);
    const out = fresh();
    const r = await exportFlows({ files: [file], formats: ['raw'], out });
    const manifest = JSON.parse(readFileSync(r.manifest, 'utf8'));
    let gaps = 0;
    for (const f of original) {
      const m = manifest.flows.find((x: { id: number }) => x.id === f.id);
      for (const dir of ['c2s', 's2c'] as const) {
        if (f.bytes[dir] === 0) {
          expect(m.files[dir]).toBeNull();
          continue;
        }
        const name = dir === 'c2s' ? tcpflowName(f.client, f.server, f.vlan, 0) : tcpflowName(f.server, f.client, f.vlan, 0);
        expect(m.files[dir]).toBe(name);
        const bytes = readFileSync(join(out, name));
        expect(bytes.length).toBe(f.bytes[dir]); // never zero-filled
        expect(sha(bytes)).toBe(f.sha256[dir]);
      }
      expect(m.gaps).toEqual(f.gapList);
      gaps += f.gapList.c2s.length + f.gapList.s2c.length;
    }
    expect(gaps).toBe(9);
    expect(manifest.sources[0]).toMatchObject({ path: file });
  });

  it("tcpflow's naming: zero-padded IPv4, IPv6 as inet_ntop writes it, VLAN and a counter for reused endpoints", async () => {
    expect(tcpflowName('10.0.0.1:1234', '192.168.1.20:80', null, 0)).toBe('010.000.000.001.01234-192.168.001.020.00080');
    expect(tcpflowName('[2001:db8::1]:5000', '[2001:db8::2]:443', 7, 2)).toBe('2001:db8::1.05000-2001:db8::2.00443--7c2');
    // 24 connections on the same endpoints: the one with data is named after the ones before it
    const file = join(REAL, 'suri-port-reuse-24conns.pcap');
    const all = await flows(file);
    const out = fresh();
    const r = await exportFlows({ files: [file], formats: ['raw'], out });
    const manifest = JSON.parse(readFileSync(r.manifest, 'utf8'));
    const data = all.find((f) => f.bytes.c2s > 0)!;
    const before = all.filter((f) => f.id < data.id && f.client === data.client && f.server === data.server).length;
    expect(before).toBeGreaterThan(0);
    expect(manifest.flows.find((m: { id: number }) => m.id === data.id).files.c2s).toBe(tcpflowName(data.client, data.server, data.vlan, before));
    expect(readFileSync(join(out, tcpflowName(data.client, data.server, data.vlan, before))).length).toBe(data.bytes.c2s);
  });

  it('jsonl: one conn.log-shaped record per flow, valid against docs/schemas/conn.schema.json; csv with a header', async () => {
    const ajv = new Ajv({ allErrors: true });
    addFormats(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(join(ROOT, 'docs', 'schemas', 'conn.schema.json'), 'utf8')));
    let records = 0;
    for (const f of files) {
      const out = fresh();
      const r = await exportFlows({ files: [join(REAL, f)], formats: ['jsonl', 'csv'], out });
      const lines = readFileSync(join(out, 'flows.jsonl'), 'utf8').split('\n').filter(Boolean);
      expect(lines.length).toBe(r.flows);
      for (const l of lines) {
        const rec = JSON.parse(l);
        expect({ f, ok: validate(rec), errors: validate.errors ?? null }).toEqual({ f, ok: true, errors: null });
      }
      const csv = readFileSync(join(out, 'flows.csv'), 'utf8').split('\r\n').filter(Boolean);
      expect(csv.length).toBe(r.flows + 1);
      records += lines.length;
    }
    expect(records).toBeGreaterThan(90); // the 93 connections of the real captures
    const http = fresh();
    await exportFlows({ files: [join(REAL, 'zeek-http-get.pcap')], formats: ['jsonl'], out: http });
    expect(JSON.parse(readFileSync(join(http, 'flows.jsonl'), 'utf8'))).toMatchObject({ proto: 'tcp', service: 'http', conn_state: 'SF', history: 'ShADadFf', 'id.resp_p': 80 });
  }, 60_000);

  it('chooses flows by id or by the flows-table filter', async () => {
    const file = join(REAL, 'suri-port-reuse-24conns.pcap');
    const all = await flows(file);
    const byId = await exportFlows({ files: [file], formats: ['jsonl'], out: fresh(), ids: [2, 5] });
    expect(byId.flows).toBe(2);
    const withHttp = all.filter((f) => f.protocol === 'http').length;
    const byFilter = await exportFlows({ files: [file], formats: ['jsonl'], out: fresh(), filter: 'proto:http' });
    expect(byFilter.flows).toBe(withHttp);
    await expect(exportFlows({ files: [file], formats: ['raw'], out: fresh(), ids: [999] })).rejects.toThrow(/no flow #999/);
  });

  it('UDP conversations are flows of the export too, numbered as weft flows numbers them', async () => {
    // a UDP capture and then a TCP one, read as one capture: the HTTP connection is weft flows' #8
    const udp = join(ROOT, 'test', 'fixtures', 'synthetic', 's-udp-conversations.pcap');
    const tcp = join(REAL, 'zeek-http-get.pcap');
    const listed: { id: number; proto?: string; client: string; sha256: { c2s: string; s2c: string }; bytes: { c2s: number; s2c: number }; packets: { c2s: number; s2c: number } }[] = [];
    await runFlows([udp, tcp], (f) => listed.push(f), { udp: (u) => listed.push(u) });
    const http = listed.find((f) => f.proto !== 'udp')!;
    expect(http.id).toBe(8);
    // by id: the one asked for, whichever transport (before, #8 was "no flow" and #1 the HTTP one)
    const one = fresh();
    const r = await exportFlows({ files: [udp, tcp], formats: ['jsonl', 'raw'], out: one, ids: [8] });
    expect(r.flows).toBe(1);
    const rec = JSON.parse(readFileSync(join(one, 'flows.jsonl'), 'utf8'));
    expect(rec).toMatchObject({ proto: 'tcp', service: 'http', weft_id: 8 });
    // every UDP conversation: conn.log records valid against the schema, raw payloads that hash to
    // weft flows' digests, frames in the slice that read back to the same conversations
    const ajv = new Ajv({ allErrors: true });
    addFormats(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(join(ROOT, 'docs', 'schemas', 'conn.schema.json'), 'utf8')));
    const out = fresh();
    const all = await exportFlows({ files: [udp, tcp], formats: ['jsonl', 'csv', 'raw', 'pcapng', 'transcript'], out, filter: 'proto:udp' });
    const udps = listed.filter((f) => f.proto === 'udp');
    expect(all.flows).toBe(udps.length);
    const lines = readFileSync(join(out, 'flows.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    for (const l of lines) expect({ ok: validate(l), errors: validate.errors ?? null }).toEqual({ ok: true, errors: null });
    expect(lines.map((l) => [l.weft_id, l.proto, l.orig_pkts, l.resp_pkts, l.orig_bytes, l.resp_bytes])).toEqual(udps.map((u) => [u.id, 'udp', u.packets.c2s, u.packets.s2c, u.bytes.c2s, u.bytes.s2c]));
    expect(lines.find((l) => l['id.resp_p'] === 53)).toMatchObject({ service: 'dns', conn_state: 'SF', history: 'Dd' });
    expect(lines.find((l) => l['id.resp_p'] === 514)).toMatchObject({ conn_state: 'S0', history: 'D' });
    expect(readFileSync(join(out, 'flows.csv'), 'utf8').split('\r\n').filter(Boolean)).toHaveLength(udps.length + 1);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    for (const u of udps) {
      const m = manifest.flows.find((f: { id: number }) => f.id === u.id);
      expect(m).toMatchObject({ proto: 'udp', bytes: u.bytes, sha256: u.sha256 });
      for (const d of ['c2s', 's2c'] as const) {
        if (u.bytes[d] === 0) expect(m.files[d]).toBeNull();
        else expect(sha(readFileSync(join(out, m.files[d])))).toBe(u.sha256[d]);
      }
    }
    const back: typeof listed = [];
    await runFlows([join(out, 'flows.pcapng')], (f) => back.push(f), { udp: (u) => back.push(u) });
    expect(back.map((f) => [f.client, f.packets, f.bytes, f.sha256])).toEqual(udps.map((u) => [u.client, u.packets, u.bytes, u.sha256]));
    expect(readdirSync(out).filter((f) => f.startsWith('transcript-')).length).toBe(udps.length);
  });

  it('progress counts the bytes of every input read so far, in each pass', async () => {
    const files = [join(REAL, 'zeek-http-cooper-grill-dvwa.pcapng'), join(REAL, 'zeek-mysql.pcap')];
    const total = files.reduce((n, f) => n + readFileSync(f).length, 0);
    const seen: { phase: string; bytesDone: number; bytesTotal: number }[] = [];
    await exportFlows({ files, formats: ['raw'], out: fresh() }, (p) => seen.push({ ...p }));
    for (const phase of ['flows', 'content']) {
      const done = seen.filter((p) => p.phase === phase).map((p) => p.bytesDone);
      expect(done.every((d, i) => i === 0 || d >= done[i - 1])).toBe(true);
      expect(done.at(-1)).toBe(total);
    }
    expect(seen.every((p) => p.bytesTotal === total)).toBe(true);
  });

  it('a failed or cancelled export leaves nothing behind', async () => {
    // an Ethernet capture and a Linux SLL2 one: pcap cannot hold both link types
    const out = fresh();
    await expect(exportFlows({ files: [join(REAL, 'zeek-http-get.pcap'), join(REAL, 'suri-decode-sll2-01.pcap')], formats: ['jsonl', 'pcap'], out })).rejects.toThrow(ExportError);
    expect(readdirSync(out)).toEqual([]);
    const ac = new AbortController();
    ac.abort();
    const out2 = fresh();
    await expect(exportFlows({ files: [join(REAL, 'zeek-http-get.pcap')], formats: ['raw', 'jsonl'], out: out2 }, undefined, ac.signal)).rejects.toThrow(/cancelled/);
    expect(readdirSync(out2)).toEqual([]);
  });

  it('a damaged capture exports every flow before the damage, and says where the damage is', () => {
    const out = fresh();
    const file = join(ROOT, 'test', 'fixtures', 'malformed', 'mk-huge-incl-len--zeek-http-get.pcap');
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'weft.cjs'), 'export', file, '--format', 'jsonl,raw', '--out', out], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/weft: warning: .*mk-huge-incl-len--zeek-http-get\.pcap: .*byte offset \d+/);
    expect(readFileSync(join(out, 'flows.jsonl'), 'utf8').trim().split('\n').length).toBe(1);
    expect(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).errors[0]).toMatch(/byte offset/);
  });

  it('weft export on the command line', () => {
    const out = fresh();
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'weft.cjs'), 'export', join(REAL, 'zeek-http-get.pcap'), '--format', 'raw,transcript,pcapng,jsonl,csv,har', '--out', out], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('1 flow exported');
    expect(r.stdout.trim().split('\n').map((l) => l.slice(out.length + 1))).toEqual([
      '141.142.228.005.59856-192.150.187.043.00080',
      '192.150.187.043.00080-141.142.228.005.59856',
      'flows.csv',
      'flows.jsonl',
      'flows.pcapng',
      'manifest.json',
      'transcript-1-141.142.228.005.59856-192.150.187.043.00080.txt',
      'zeek-http-get.har',
    ]);
    const t = readFileSync(join(out, 'transcript-1-141.142.228.005.59856-192.150.187.043.00080.txt'), 'utf8');
    expect(t).toMatch(/^\n=== 20\d\d-.*Z client 141\.142\.228\.5:59856 → 192\.150\.187\.43:80 \(frame \d+\)\nGET /);
    expect(t).toMatch(/\n=== .* server 192\.150\.187\.43:80 → 141\.142\.228\.5:59856 \(frame \d+\)\nHTTP\/1\.1 200 OK\\r\n/);
    const bad = spawnSync(process.execPath, [join(ROOT, 'bin', 'weft.cjs'), 'export', join(REAL, 'zeek-http-get.pcap'), '--format', 'raw,zip', '--out', out], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--format takes a comma-separated list of: raw, transcript, pcap, pcapng, jsonl, csv, har \(not 'zip'\)/);
    expect(existsSync(join(out, '.weft-export'))).toBe(false);
  });
});
