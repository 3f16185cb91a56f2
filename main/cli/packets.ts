import { PacketDecoder, Transport, formatIP } from '../engine/decode';
import { linkTypeName } from '../engine/formats';
import { readCaptureFile } from '../sources/capture-source';
import { formatTime, hostPort, tcpFlagString } from './format';
import type { BufferedOut } from './io';

/**
 * `weft packets FILE [--json] [--limit N]`: one line per packet. Returns 1 if the file is damaged
 * (after printing every packet before the damage), else 0.
 */
export async function packetsCommand(file: string, json: boolean, limit: number, out: BufferedOut, err: BufferedOut): Promise<number> {
  const dec = new PacketDecoder();
  const stop = new AbortController();
  let printed = 0;
  const r = await readCaptureFile(
    file,
    {
      packet(p) {
        if (printed >= limit || out.closed) {
          stop.abort();
          return;
        }
        printed++;
        const d = dec.decode(p);
        const time = formatTime(p.tsSec, p.tsNsec);
        const link = linkTypeName(p.linkType);
        if (json) {
          const o: Record<string, unknown> = { frame: p.frame, time, link, capLen: p.capLen, origLen: p.origLen };
          if (d.vlanCount) o.vlan = d.vlan;
          if (d.ipVersion) {
            o.ipVersion = d.ipVersion;
            o.src = formatIP(d.ipVersion, d.src);
            o.dst = formatIP(d.ipVersion, d.dst);
            o.proto = d.ipProto;
          }
          if (d.transport === Transport.TCP) {
            const t = d.tcp;
            Object.assign(o, {
              srcPort: t.srcPort,
              dstPort: t.dstPort,
              flags: tcpFlagString(t.flags),
              seq: t.seq,
              ack: t.ack,
              window: t.window,
              len: d.payloadLength,
              captured: d.payloadCaptured,
            });
            if (t.mss >= 0) o.mss = t.mss;
            if (t.windowScale >= 0) o.wscale = t.windowScale;
            if (t.sackPermitted) o.sackPermitted = true;
            if (t.sackCount) o.sack = Array.from(t.sack.subarray(0, 2 * t.sackCount));
            if (t.hasTimestamps) o.ts = [t.tsVal, t.tsEcr];
          } else if (d.transport === Transport.UDP) {
            Object.assign(o, { srcPort: d.udp.srcPort, dstPort: d.udp.dstPort, len: d.payloadLength });
          }
          if (d.tunnelDepth) o.tunnels = d.tunnelDepth;
          if (d.fragmentHeld) o.fragment = true;
          if (d.reassembled) o.reassembled = true;
          out.line(JSON.stringify(o));
          return;
        }
        let line = `${p.frame} ${time} ${link}`;
        if (d.transport === Transport.TCP || d.transport === Transport.UDP) {
          const sp = d.transport === Transport.TCP ? d.tcp.srcPort : d.udp.srcPort;
          const dp = d.transport === Transport.TCP ? d.tcp.dstPort : d.udp.dstPort;
          line += ` ${hostPort(d.ipVersion, formatIP(d.ipVersion, d.src), sp)} > ${hostPort(d.ipVersion, formatIP(d.ipVersion, d.dst), dp)}`;
          if (d.transport === Transport.TCP) {
            const t = d.tcp;
            line += ` TCP [${tcpFlagString(t.flags)}] seq=${t.seq} ack=${t.ack} win=${t.window} len=${d.payloadLength}`;
            if (d.payloadCaptured < d.payloadLength) line += ` (captured ${d.payloadCaptured})`;
          } else line += ` UDP len=${d.payloadLength}`;
        } else if (d.ipVersion) {
          line += ` ${formatIP(d.ipVersion, d.src)} > ${formatIP(d.ipVersion, d.dst)}`;
          line += d.fragmentHeld ? ` fragment (proto ${d.ipProto})` : ` proto ${d.ipProto}`;
        } else line += ` (no IP; ${p.capLen} bytes)`;
        if (d.vlanCount) line += ` vlan=${d.vlan}`;
        if (d.tunnelDepth) line += ` tunnel=${d.tunnelDepth}`;
        if (d.reassembled) line += ` reassembled`;
        out.line(line);
      },
    },
    {
      signal: stop.signal,
      afterChunk: () => (out.pending > 1 << 16 ? out.flush() : undefined),
    },
  );
  await out.flush();
  if (r.error) {
    err.line(`weft: ${r.error.message}`);
    return 1;
  }
  return 0;
}
