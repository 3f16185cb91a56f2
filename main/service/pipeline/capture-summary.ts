/**
 * What `weft info` reports about a capture file: format, link types, packet and byte counts,
 * first/last capture time, decode anomalies by kind, and the file error if it is damaged
 * (everything before the damage still counted).
 */
import { linkTypeName } from '../../engine/formats';
import { PacketDecoder, Transport } from '../../engine/decode';
import { readCaptureFile, type ReadOptions } from '../../sources/capture-source';

export interface CaptureSummary {
  file: string;
  format: string | null;
  fileBytes: number;
  sections: number;
  interfaces: { index: number; linkType: number; link: string; snapLen: number; name?: string }[];
  /** Link type name → packets captured on it. */
  linkTypes: Record<string, number>;
  packets: number;
  capturedBytes: number;
  wireBytes: number;
  firstTime: { sec: number; nsec: number } | null;
  lastTime: { sec: number; nsec: number } | null;
  tcpPackets: number;
  udpPackets: number;
  otherIpPackets: number;
  /** Decode anomalies (per packet, by kind) plus reader fix-ups. */
  anomalies: Record<string, number>;
  error: { kind: string; offset: number; message: string } | null;
}

export async function summarizeCapture(path: string, opts: ReadOptions = {}): Promise<CaptureSummary> {
  const dec = new PacketDecoder();
  const perLink = new Map<number, number>();
  const s: CaptureSummary = {
    file: path,
    format: null,
    fileBytes: 0,
    sections: 0,
    interfaces: [],
    linkTypes: {},
    packets: 0,
    capturedBytes: 0,
    wireBytes: 0,
    firstTime: null,
    lastTime: null,
    tcpPackets: 0,
    udpPackets: 0,
    otherIpPackets: 0,
    anomalies: {},
    error: null,
  };
  let firstSec = -1;
  let firstNsec = 0;
  let lastSec = -1;
  let lastNsec = 0;
  const r = await readCaptureFile(
    path,
    {
      packet(p) {
        s.capturedBytes += p.capLen;
        s.wireBytes += p.origLen;
        perLink.set(p.linkType, (perLink.get(p.linkType) ?? 0) + 1);
        if (firstSec < 0) {
          firstSec = p.tsSec;
          firstNsec = p.tsNsec;
        }
        lastSec = p.tsSec;
        lastNsec = p.tsNsec;
        const d = dec.decode(p);
        if (d.transport === Transport.TCP) {
          s.tcpPackets++;
          d.tcp.parseOptions(); // so malformed options are counted (they are parsed lazily)
        }
        else if (d.transport === Transport.UDP) s.udpPackets++;
        else if (d.transport === Transport.OTHER) s.otherIpPackets++;
      },
    },
    opts,
  );
  s.format = r.format;
  s.fileBytes = r.bytesTotal;
  s.packets = r.packets;
  s.interfaces = r.interfaces.map((i) => ({
    index: i.index,
    linkType: i.linkType,
    link: linkTypeName(i.linkType),
    snapLen: i.snapLen,
    ...(i.name ? { name: i.name } : {}),
  }));
  s.sections = r.sections;
  for (const [lt, n] of [...perLink].sort((a, b) => b[1] - a[1])) s.linkTypes[linkTypeName(lt)] = n;
  if (firstSec >= 0) {
    s.firstTime = { sec: firstSec, nsec: firstNsec };
    s.lastTime = { sec: lastSec, nsec: lastNsec };
  }
  const an: Record<string, number> = { ...dec.anomalies.toObject() };
  if (r.readerAnomalies.capLenOverOrigLen) an['caplen-over-origlen'] = r.readerAnomalies.capLenOverOrigLen;
  if (r.readerAnomalies.badTimestampFraction) an['bad-timestamp-fraction'] = r.readerAnomalies.badTimestampFraction;
  if (r.readerAnomalies.skippedBlocks) an['pcapng-blocks-skipped'] = r.readerAnomalies.skippedBlocks;
  s.anomalies = an;
  if (r.error) s.error = { kind: r.error.kind, offset: r.error.offset, message: r.error.message };
  return s;
}
