import type { CapturedPacket } from '../engine/formats';
import { pluginByName } from '../engine/protocols';
import { FlowPipeline } from '../service/pipeline/flow-recorder';
import { MessagePipeline } from '../service/pipeline/messages';
import type { PacketPipeline } from '../service/pipeline/packet-pipeline';
import { PcapngFileWriter } from '../sources/capture-file-writer';
import { readCaptureStream } from '../sources/capture-source';
import { LiveCapture, LiveCaptureError, listDevices, type LiveStats } from '../sources/live-source';
import { header, row } from './flows';
import { UsageError, type BufferedOut } from './io';
import { messageLine, optionsOf } from './messages';

/** `weft devices [--json]` */
export function devicesCommand(json: boolean, out: BufferedOut, err: BufferedOut): number {
  try {
    const devs = listDevices();
    if (json) for (const d of devs) out.line(JSON.stringify(d));
    else
      for (const d of devs)
        out.line(`${d.name.padEnd(18)} ${(d.up ? 'up' : 'down').padEnd(5)}${d.loopback ? 'loopback ' : ''}${d.addresses.join(' ')}${d.description ? `  (${d.description})` : ''}`);
    return 0;
  } catch (e) {
    if (e instanceof LiveCaptureError) {
      err.line(`weft: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

export interface CaptureArgs {
  device?: string;
  stdin: boolean;
  filter?: string;
  durationSec?: number;
  count?: number;
  write?: string;
  ringBytes?: number;
  ringFiles?: number;
  snaplen?: number;
  json: boolean;
  idleSec: number;
}

/**
 * `weft capture -i IFACE [-f BPF] [--duration S] [--count N] [--write F.pcapng] [--json]`, or
 * `--stdin` for a capture piped in: each flow is printed as it completes (same JSON as weft flows),
 * idle connections close on the wall clock live, capture time from a pipe.
 */
export async function captureCommand(a: CaptureArgs, out: BufferedOut, err: BufferedOut): Promise<number> {
  const pipe = new FlowPipeline(a.json ? { json: (line) => out.line(line, true) } : (f) => out.line(row(f)), { clock: a.stdin ? 'capture' : 'wall', idleSec: a.idleSec });
  let writer: PcapngFileWriter | null = null;
  const save = (p: CapturedPacket) => writer?.packet(p.tsSec, p.tsNsec, p.buf.subarray(p.offset, p.offset + p.capLen), p.origLen);
  if (a.stdin) {
    if (!a.json) out.line(header());
    let opened = false;
    const r = await readCaptureStream(
      '-',
      process.stdin,
      {
        interface(i) {
          if (a.write && !opened) {
            writer = new PcapngFileWriter(a.write, { linkType: i.linkType, maxFileBytes: a.ringBytes, maxFiles: a.ringFiles });
            opened = true;
          }
        },
        packet(p) {
          save(p);
          pipe.packet(p);
        },
      },
      { afterChunk: () => (out.pending > 1 << 16 ? out.flush() : undefined) },
    );
    pipe.end();
    (writer as PcapngFileWriter | null)?.close();
    if (r.error) {
      err.line(`weft: warning: ${r.error.message}`);
      return 1;
    }
    return 0;
  }
  const r = await runLive({ ...a, device: a.device! }, pipe, save, (w) => (writer = w), out, err, () => {
    if (!a.json) out.line(header());
  });
  if (typeof r === 'number') return r;
  (writer as PcapngFileWriter | null)?.close();
  err.line(`weft: ${r.received} packets received, ${r.processed} processed, ${r.dropped} dropped (cut: larger than the capture buffer); ${pipe.flows} connections`);
  if (writer) err.line(`weft: saved ${(writer as PcapngFileWriter).packets} packets to ${(writer as PcapngFileWriter).files.join(', ')}`);
  return 0;
}

export interface LiveArgs {
  device: string;
  filter?: string;
  snaplen?: number;
  durationSec?: number;
  count?: number;
  write?: string;
  ringBytes?: number;
  ringFiles?: number;
}

/**
 * Captures on a device into `pipe` until Ctrl-C, the duration or the packet count; idle
 * connections close on the wall clock; output is flushed every second. Returns the capture's
 * counters, or an exit status when the device cannot be opened (the message already printed).
 */
async function runLive(
  a: LiveArgs,
  pipe: PacketPipeline,
  save: (p: CapturedPacket) => void,
  opened: (w: PcapngFileWriter) => void,
  out: BufferedOut,
  err: BufferedOut,
  started: () => void,
): Promise<LiveStats | number> {
  const live = new LiveCapture({ device: a.device, filter: a.filter, snaplen: a.snaplen });
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  try {
    live.start({
      packet(p) {
        save(p);
        pipe.packet(p);
        if (a.count !== undefined && live.stats.processed + 1 >= a.count) stop();
      },
    });
    if (a.write) opened(new PcapngFileWriter(a.write, { linkType: live.linkType, maxFileBytes: a.ringBytes, maxFiles: a.ringFiles, interfaceName: a.device }));
  } catch (e) {
    if (e instanceof LiveCaptureError) {
      err.line(`weft: ${e.message}`);
      return 2;
    }
    throw e;
  }
  err.line(`weft: capturing on ${a.device}${a.filter ? ` (${a.filter})` : ''}; Ctrl-C stops`);
  started();
  await err.flush();
  const tick = setInterval(() => {
    pipe.tick();
    if (out.pending > 0) void out.flush();
  }, 1000);
  const timer = a.durationSec !== undefined ? setTimeout(stop, a.durationSec * 1000) : null;
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await stopped;
  live.stop();
  clearInterval(tick);
  if (timer) clearTimeout(timer);
  process.removeListener('SIGINT', stop);
  process.removeListener('SIGTERM', stop);
  pipe.end();
  return live.stats;
}

export interface SniffArgs {
  plugin: string;
  device: string;
  filter?: string;
  durationSec?: number;
  count?: number;
  json: boolean;
  idleSec: number;
  options: readonly string[];
}

/**
 * `weft sniff PLUGIN -i IFACE [-f BPF] [--duration S] [--count N] [--json]`: go-sniffer's
 * experience — capture with the plugin's BPF filter (or the one given), print each message as it
 * is parsed. Connections on the plugin's ports are parsed even when they started before the
 * capture did (their first bytes are then not a recognisable opening).
 */
export async function sniffCommand(a: SniffArgs, out: BufferedOut, err: BufferedOut): Promise<number> {
  const plugin = pluginByName(a.plugin);
  if (!plugin) throw new UsageError(`no plugin '${a.plugin}' (weft plugins lists them)`);
  const pipe = new MessagePipeline((m) => out.line(messageLine(m, a.json)), [plugin], { clock: 'wall', idleSec: a.idleSec, byPort: true, pluginOptions: optionsOf(a.options) });
  const r = await runLive({ device: a.device, filter: a.filter ?? plugin.bpf, durationSec: a.durationSec, count: a.count }, pipe, () => {}, () => {}, out, err, () => {});
  if (typeof r === 'number') return r;
  err.line(`weft: ${r.received} packets received, ${r.processed} processed, ${r.dropped} dropped (cut: larger than the capture buffer)`);
  return 0;
}
