/**
 * A flow's packet list (the session's packet log, fed by the assembler's PacketObserver) on every
 * real capture: each connection tshark found has exactly tshark's packets (its frame count for
 * that tcp.stream, the final ACK and late retransmissions after the close included), every TCP
 * packet is in exactly one flow, frames rise, and what the engine judged of each packet adds up
 * to the flow's own anomaly counters.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FlowFactory, flowOf, type Flow } from '../../main/engine/flows';
import { AFTER_CLOSE, STREAM_ANOMALY_NAMES } from '../../main/engine/reassembly';
import { Transport } from '../../main/engine/decode';
import { NODE_HASHES } from '../../main/service/pipeline/hashes';
import { PacketPipeline, readInputs } from '../../main/service/pipeline/packet-pipeline';
import { PacketLog } from '../../main/service/session/packet-log';
import { readCaptureFile } from '../../main/sources/capture-source';
import { expectedReal, REAL } from '../helpers/fixtures';

const tmp = mkdtempSync(join(tmpdir(), 'weft-packet-log-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const expected = expectedReal();

async function logOf(file: string) {
  const flows: Flow[] = [];
  const factory = new FlowFactory({ hashes: NODE_HASHES, listener: { complete: (f) => flows.push(flowOf(f)) } });
  const pipe = new PacketPipeline(factory);
  const log = new PacketLog(mkdtempSync(join(tmp, 'x-')));
  pipe.assembler.observer = log;
  // each TCP packet's SACK edges, as the decoder reads them (what the log must give back)
  const sacks = new Map<number, number[]>();
  await readCaptureFile(join(REAL, file), {
    packet(p) {
      pipe.packet(p);
      const d = pipe.last;
      if (d?.transport === Transport.TCP && d.tcp.sackCount > 0) sacks.set(p.frame, Array.from(d.tcp.sack.subarray(0, 2 * d.tcp.sackCount)));
    },
  });
  pipe.end();
  return { flows, log, tcpPackets: pipe.tcpPackets, sacks };
}

describe('frames of a session of several files (each numbers from 1)', () => {
  it('go to frame finds the frame of the flow asked about, else of the first file', async () => {
    const flows: Flow[] = [];
    const factory = new FlowFactory({ hashes: NODE_HASHES, listener: { complete: (f) => flows.push(flowOf(f)) } });
    const pipe = new PacketPipeline(factory);
    const log = new PacketLog(mkdtempSync(join(tmp, 'two-')));
    pipe.assembler.observer = log;
    await readInputs([join(REAL, 'zeek-irc-5k-line.pcap'), join(REAL, 'zeek-http-get.pcap')], pipe);
    pipe.end();
    const http = flows.find((f) => f.server === '192.150.187.43:80')!;
    const p = log.read(http.id, 0, 100);
    for (let j = 0; j < p.frame.length; j++) {
      expect(log.findFrame(p.frame[j], http.id)).toEqual({ id: http.id, index: j });
      // without a flow to prefer: the first file's frame of that number
      expect(log.findFrame(p.frame[j])!.id).not.toBe(http.id);
    }
    log.close();
  });
});

describe('a flow\'s packets, as tshark lists them', () => {
  for (const file of Object.keys(expected)) {
    it(file, async () => {
      const { flows, log, tcpPackets, sacks } = await logOf(file);
      let sacked = 0;
      // every TCP packet in exactly one flow
      expect(flows.reduce((n, f) => n + log.countOf(f.id), 0)).toBe(tcpPackets);
      for (const f of flows) {
        const p = log.read(f.id, 0, 50_000);
        expect(p.frame.length).toBe(log.countOf(f.id));
        for (let j = 1; j < p.frame.length; j++) expect(p.frame[j]).toBeGreaterThan(p.frame[j - 1]);
        // the judged bits: a packet per retransmission counted (once each), none after close in the flow's counters
        const retrans = STREAM_ANOMALY_NAMES.indexOf('retransmission');
        const judgedRetrans = p.judged.filter((b) => b & (1 << retrans)).length;
        expect(judgedRetrans).toBe(f.anomalies.retransmission ?? 0);
        const open = p.judged.filter((b) => !(b & AFTER_CLOSE)).length;
        expect(open).toBe(f.packets.c2s + f.packets.s2c);
        for (let j = 0; j < p.frame.length; j++) {
          expect(p.sack[j]).toEqual(sacks.get(p.frame[j]) ?? []);
          if (p.sack[j].length) sacked++;
          expect(log.findFrame(p.frame[j])).toEqual({ id: f.id, index: j });
          expect(log.findFrame(p.frame[j], f.id)).toEqual({ id: f.id, index: j });
        }
      }
      for (const c of expected[file].connections) {
        const first = Number(c.first_ts);
        // by endpoints in either order (tshark names the first packet's sender the client; we may infer otherwise mid-stream)
        const f = flows.find((x) => [x.client, x.server].sort().join() === [c.client, c.server].sort().join() && Math.abs(x.firstSeen - first) < 1e-6);
        expect(f, `${c.client} → ${c.server} at ${c.first_ts}`).toBeDefined();
        expect(log.countOf(f!.id), `${c.client} → ${c.server} at ${c.first_ts}`).toBe(c.packets);
      }
      // every packet with SACK blocks is some flow's
      expect(sacked).toBe(sacks.size);
      log.close();
    });
  }
});
