/**
 * One measurement per process (so each gets its own peak RSS): `bench.cjs --measure NAME --file F`
 * prints {ms, bytes, packets, maxRssMB} as JSON. Used by bench.ts.
 */
import { PacketDecoder, Transport } from '../../main/engine/decode';
import { Assembler, StreamPool, type ScatterGather, type Stream } from '../../main/engine/reassembly';
import { readCaptureFile } from '../../main/sources/capture-source';
import { BaselineReassembler } from './baseline';
import { walkRecordHeaders } from './floor';

export type MeasureName = 'floor' | 'decode' | 'engine' | 'baseline';

/** A Stream that only counts bytes: what the engine benchmark delivers to. */
class CountingStream implements Stream {
  static bytes = 0;
  accept(): boolean {
    return true;
  }
  reassembledSG(sg: ScatterGather): void {
    const l = sg.lengths();
    CountingStream.bytes += l[0] - l[1];
  }
  reassemblyComplete(): boolean {
    return true;
  }
}

export async function measure(name: MeasureName, file: string): Promise<{ bytes: number; packets: number }> {
  switch (name) {
    case 'floor': {
      const r = await walkRecordHeaders(file);
      return { bytes: 0, packets: r.packets };
    }
    case 'decode': {
      const dec = new PacketDecoder();
      let bytes = 0;
      const r = await readCaptureFile(file, {
        packet(p) {
          const d = dec.decode(p);
          if (d.transport === Transport.TCP) bytes += d.payloadCaptured;
        },
      });
      return { bytes, packets: r.packets };
    }
    case 'engine': {
      const dec = new PacketDecoder();
      const pool = new StreamPool({ new: () => new CountingStream() });
      const asm = new Assembler(pool);
      const ci = { tsSec: 0, tsNsec: 0, frame: 0, capLen: 0, origLen: 0 };
      const ctx = { captureInfo: () => ci };
      let nextFlush = 0;
      const r = await readCaptureFile(file, {
        packet(p) {
          const d = dec.decode(p);
          if (d.transport !== Transport.TCP) return;
          ci.tsSec = p.tsSec;
          ci.tsNsec = p.tsNsec;
          ci.frame = p.frame;
          ci.capLen = p.capLen;
          ci.origLen = p.origLen;
          if (p.tsSec >= nextFlush) {
            // what weft flows does: close connections idle for 10 minutes, once a capture second
            asm.flushCloseOlderThan(p.tsSec - 600);
            nextFlush = p.tsSec + 1;
          }
          asm.assemble(d, d, ctx);
        },
      });
      asm.flushAll();
      return { bytes: CountingStream.bytes, packets: r.packets };
    }
    case 'baseline': {
      const dec = new PacketDecoder();
      const b = new BaselineReassembler();
      const r = await readCaptureFile(file, {
        packet(p) {
          const d = dec.decode(p);
          if (d.transport === Transport.TCP) b.packet(d);
        },
      });
      b.end();
      return { bytes: b.bytes, packets: r.packets };
    }
  }
}
