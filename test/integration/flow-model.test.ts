/**
 * The one flow model (main/engine/flows): the JSON `weft flows --json` prints straight from an
 * accumulator is exactly JSON.stringify of its Flow, and hashing small directions in one go (the
 * pending buffers) gives the same digests as hashing every direction incrementally — on every
 * real capture and on a generated one with anomalies, large directions and both IP versions.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AfterCloseWindow, FlowFactory, flowJson, flowOf, jsonInput, PENDING_PER_DIRECTION, type Flow, type FlowAccumulator } from '../../main/engine/flows';
import { NODE_HASHES } from '../../main/service/pipeline/hashes';
import { PacketPipeline } from '../../main/service/pipeline/packet-pipeline';
import { readCaptureFile } from '../../main/sources/capture-source';
import { REAL } from '../helpers/fixtures';

const dir = mkdtempSync(join(tmpdir(), 'weft-flow-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every completed accumulator of a file, with its JSON line and Flow taken at completion. */
async function accumulate(file: string, pendingBudget?: number): Promise<{ json: string[]; flows: Flow[]; factory: FlowFactory }> {
  const json: string[] = [];
  const flows: Flow[] = [];
  // reported as weft flows reports them: FIN and RST closes once their packets after the close are in
  const late = new AfterCloseWindow((a: FlowAccumulator) => {
    json.push(flowJson(jsonInput(a)));
    flows.push(flowOf(a));
  });
  const factory = await runWindowed(file, late, { pendingBudget });
  return { json, flows, factory };
}

/**
 * Reads `file` through the packet pipeline into a FlowFactory made with `opts`, reporting flows
 * through `late` as weft flows does (FIN and RST closes once their packets after the close are in).
 */
async function runWindowed(file: string, late: AfterCloseWindow, opts: { pendingBudget?: number }): Promise<FlowFactory> {
  let packets = () => 0;
  const factory = new FlowFactory({ hashes: NODE_HASHES, ...opts, listener: { complete: (a: FlowAccumulator) => late.closed(a, packets()) } });
  const pipe = new PacketPipeline(factory);
  packets = () => pipe.packets;
  factory.payloadOfPacket = () => pipe.last?.payloadLength ?? 0;
  pipe.assembler.afterClose = (id, d, flags, payload) => late.packet(id, d, flags, payload, pipe.assembler.now, pipe.packets);
  await readCaptureFile(file, {
    packet: (p) => {
      pipe.packet(p);
      late.advance(p.tsSec + p.tsNsec / 1e9, pipe.packets);
    },
  });
  pipe.end();
  late.advance(Infinity, Infinity);
  return factory;
}

const captures = readdirSync(REAL).filter((f) => /\.(pcap|pcapng)$/.test(f));

function generated(): string {
  const out = join(dir, 'mixed.pcap');
  execFileSync(process.execPath, [join(__dirname, '..', 'bench', 'gen-pcap.mjs'), '--out', out, '--conns', '60', '--profile', 'bulk', '--seed', '7', '--anomaly', '0.12', '--ipv6', '0.3'], { stdio: 'ignore' });
  return out;
}

describe('flow JSON', () => {
  it('is JSON.stringify(flowOf(f)) for every connection of every real capture', async () => {
    let n = 0;
    for (const c of captures) {
      const { json, flows } = await accumulate(join(REAL, c));
      expect(json, c).toEqual(flows.map((f) => JSON.stringify(f)));
      n += flows.length;
    }
    expect(n).toBeGreaterThan(90);
  });

  it('is the same on a generated capture with gaps, overlaps, anomalies and IPv6', async () => {
    const { json, flows } = await accumulate(generated());
    expect(flows.some((f) => f.gapList.c2s.length + f.gapList.s2c.length > 0)).toBe(true);
    expect(flows.some((f) => Object.keys(f.anomalies).length > 1)).toBe(true);
    expect(flows.some((f) => f.ipVersion === 6)).toBe(true);
    expect(json).toEqual(flows.map((f) => JSON.stringify(f)));
  });
});

describe('weft flows --json', () => {
  const weft = (file: string) =>
    new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [join(__dirname, '..', '..', 'bin', 'weft.cjs'), 'flows', '--json', file], { maxBuffer: 1 << 28 }, (e, out) => (e ? reject(e) : resolve(out))),
    );

  it('prints exactly JSON.stringify of each Flow: every real capture, and many batches of a generated one (the order is the engine threads\' merge: shards.test.ts)', async () => {
    const small = join(dir, 'many-small.pcap');
    execFileSync(process.execPath, [join(__dirname, '..', 'bench', 'gen-pcap.mjs'), '--out', small, '--conns', '3000', '--profile', 'small', '--seed', '3', '--anomaly', '0.1'], { stdio: 'ignore' });
    const files = [...captures.map((c) => join(REAL, c)), generated(), small];
    // two at a time: a burst of sixty processes starves whatever else runs (the live-capture tests drop packets)
    const outs: string[] = [];
    for (let i = 0; i < files.length; i += 2) outs.push(...(await Promise.all(files.slice(i, i + 2).map(weft))));
    for (const [i, file] of files.entries()) {
      const { flows } = await accumulate(file);
      // the TCP flows (UDP conversations are lines of their own among them: test/integration/udp.test.ts)
      const lines = outs[i] === '' ? [] : outs[i].trimEnd().split('\n').filter((l) => !l.includes('"proto":"udp"'));
      expect(lines.sort(), file).toEqual(flows.map((f) => JSON.stringify(f)).sort());
    }
    expect(outs.at(-1)!.trimEnd().split('\n')).toHaveLength(3000);
  }, 120_000);
});

describe('hashing', () => {
  it('gives the same digests whether directions are hashed in one go, incrementally, or switch part-way', async () => {
    const file = generated();
    const pending = await accumulate(file);
    const incremental = await accumulate(file, 0); // no budget: every direction incremental
    const mixed = await accumulate(file, 64 * 1024); // the budget runs out part-way
    const digests = (r: { flows: Flow[] }) => r.flows.map((f) => [f.id, f.sha256.c2s, f.sha256.s2c]);
    expect(digests(incremental)).toEqual(digests(pending));
    expect(digests(mixed)).toEqual(digests(pending));
    // the capture has directions larger than one pending buffer, which switch to incremental
    expect(pending.flows.some((f) => f.bytes.s2c > PENDING_PER_DIRECTION)).toBe(true);
    // every pending byte was given back
    for (const r of [pending, incremental, mixed]) expect(r.factory.pending).toBe(0);
  });

  it('a direction without bytes has the digest of no bytes', async () => {
    const { flows } = await accumulate(join(REAL, captures[0]));
    const empty = createHash('sha256').digest('hex');
    for (const f of flows) {
      if (f.bytes.c2s === 0) expect(f.sha256.c2s).toBe(empty);
      if (f.bytes.s2c === 0) expect(f.sha256.s2c).toBe(empty);
    }
  });
});
