/**
 * Every real capture: our packet count equals tshark's, and the TCP packets we decode fall into
 * exactly the connections tshark found (same endpoints, same packet count per endpoint pair;
 * connections that reuse a port pair are summed, since telling them apart is reassembly's job).
 * The first packet time of each endpoint pair matches tshark's first_ts to the nanosecond.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { PacketDecoder, Transport, formatEndpoint } from '../../main/engine/decode';
import { readCaptureFile } from '../../main/sources/capture-source';
import { captureFiles, expectedReal, REAL } from '../helpers/fixtures';

const expected = expectedReal();

describe('real captures agree with tshark', () => {
  it('has an EXPECTED entry for every fixture', () => {
    expect(captureFiles(REAL).sort()).toEqual(Object.keys(expected).sort());
  });

  for (const file of Object.keys(expected)) {
    it(file, async () => {
      const exp = expected[file];
      const dec = new PacketDecoder();
      const pairs = new Map<string, { packets: number; first: string }>();
      const r = await readCaptureFile(join(REAL, file), {
        packet(p) {
          const d = dec.decode(p);
          if (d.transport !== Transport.TCP) return;
          const a = formatEndpoint(d.ipVersion, d.src, d.tcp.srcPort);
          const b = formatEndpoint(d.ipVersion, d.dst, d.tcp.dstPort);
          const key = a < b ? `${a} ${b}` : `${b} ${a}`;
          const e = pairs.get(key);
          if (e) e.packets++;
          else pairs.set(key, { packets: 1, first: `${p.tsSec}.${String(p.tsNsec).padStart(9, '0')}` });
        },
      });
      expect(r.error).toBeNull();
      expect(r.packets).toBe(Number(exp.packets_total));
      const want = new Map<string, { packets: number; first: string }>();
      for (const c of exp.connections) {
        const key = c.client < c.server ? `${c.client} ${c.server}` : `${c.server} ${c.client}`;
        const e = want.get(key);
        if (e) {
          e.packets += c.packets;
          if (c.first_ts < e.first) e.first = c.first_ts;
        } else want.set(key, { packets: c.packets, first: c.first_ts });
      }
      expect(Object.fromEntries(pairs)).toEqual(Object.fromEntries(want));
    });
  }
});
