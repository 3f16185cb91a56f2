import type { CapturedPacket, InterfaceInfo } from '../engine/formats';
import { pluginByName } from '../engine/protocols';
import { FlowPipeline } from '../service/pipeline/flow-recorder';
import { MessagePipeline } from '../service/pipeline/messages';
import type { PacketPipeline } from '../service/pipeline/packet-pipeline';
import { PcapngFileWriter } from '../sources/capture-file-writer';
import { LiveCaptureError, snaplenOf, type CaptureVia, type LiveStats } from '../sources/live-source';
import { listLiveDevices, openLive, parseVia } from '../sources/live';
import { header, outputBound, row } from './flows';
import { UsageError, type BufferedOut } from './io';
import { messageLine, optionsOf } from './messages';
import { runSharded } from '../service/shards/sharded';
import { idPrefix } from '../service/shards/flows-task';
import { MESSAGE } from '../service/shards/messages-task';
import type { WorkerData } from '../service/shards/worker-main';

/** `weft devices [--json]` */
export function devicesCommand(json: boolean, out: BufferedOut, err: BufferedOut, via?: string): number {
  try {
    const devs = listLiveDevices(parseVia(via ?? process.env.WEFT_CAPTURE_VIA));
    if (json) for (const d of devs) out.line(JSON.stringify(d));
    else
      for (const d of devs) {
        const state = !d.up ? 'down' : d.running === false ? 'up, no carrier' : 'up';
        out.line(`${d.name.padEnd(18)} ${state.padEnd(15)}${d.loopback ? 'loopback ' : ''}${d.addresses.join(' ')}${d.description ? `  (${d.description})` : ''}`);
      }
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
  promiscuous?: boolean;
  via?: string;
  json: boolean;
  idleSec: number;
  /** Engine threads (default 1 live, whose rates are far below one thread's; one per core from standard input, which may come as fast as a file). */
  threads?: number;
}

/** The summary line at the end of a live capture: what arrived, and what the kernel says it lost. */
export function liveSummary(r: LiveStats, via: CaptureVia): string {
  const lost = r.kernelDropped === null || r.kernelDropped === undefined ? 'drops unknown (dumpcap did not report them)' : `${r.kernelDropped} dropped by the kernel`;
  return `${r.received} packets received, ${r.processed} processed, ${lost} (via ${via})`;
}

/**
 * `weft capture -i IFACE [-f BPF] [--duration S] [--count N] [--write F.pcapng] [--json]`, or
 * `--stdin` for a capture piped in: each flow is printed as it completes (same JSON as weft flows),
 * idle connections close on the wall clock live, capture time from a pipe.
 */
export async function captureCommand(a: CaptureArgs, out: BufferedOut, err: BufferedOut): Promise<number> {
  let writer: PcapngFileWriter | null = null;
  const save = (p: CapturedPacket) => writer?.packet(p.tsSec, p.tsNsec, p.buf.subarray(p.offset, p.offset + p.capLen), p.origLen);
  if (a.stdin) {
    if (!a.json) out.line(header());
    // with --write, what came in is saved as the engine threads' reader frames it
    const write = a.write;
    const saving = write && {
      interface(i: InterfaceInfo) {
        writer ??= new PcapngFileWriter(write, { linkType: i.linkType, maxFileBytes: a.ringBytes, maxFiles: a.ringFiles });
      },
      packet: save,
    };
    // on the engine threads, as weft flows - reads a pipe: the same lines in the same order for every N
    const r = await runSharded(['-'], {
      threads: a.threads ?? 1,
      task: { kind: 'flows', json: a.json, facts: false, idleSec: a.idleSec, policy: 'first', hostPolicies: [], udp: false },
      copied: true,
      item: (id, _kind, res, _i, from, to) => out.lineOf(idPrefix(a.json, id), res.text, from, to),
      tap: saving || undefined,
      ...outputBound(out),
    });
    const error = r.errors[0];
    (writer as PcapngFileWriter | null)?.close();
    if (error) {
      err.line(`weft: warning: ${error.message}`);
      return 1;
    }
    return 0;
  }
  const started = () => {
    if (!a.json) out.line(header());
  };
  const live = { ...a, device: a.device! };
  let flows = 0;
  let r: Awaited<ReturnType<typeof runLive>>;
  if ((a.threads ?? 1) > 1) {
    r = await liveOnThreads(
      live,
      a.threads!,
      { kind: 'flows', json: a.json, facts: false, idleSec: a.idleSec, policy: 'first', hostPolicies: [], wall: true, udp: false },
      (id, b, from, to) => {
        flows++;
        out.lineOf(idPrefix(a.json, id), b, from, to);
      },
      save,
      (w) => (writer = w),
      out,
      err,
      started,
    );
  } else {
    const pipe = new FlowPipeline(a.json ? { json: (line) => out.line(line, true) } : (f) => out.line(row(f)), { clock: 'wall', idleSec: a.idleSec });
    r = await runLive(live, pipe, save, (w) => (writer = w), out, err, started);
    flows = pipe.flows;
  }
  if (typeof r === 'number') return r;
  (writer as PcapngFileWriter | null)?.close({ received: r.stats.received, kernelDropped: r.stats.kernelDropped, comment: `weft capture via ${r.via}` });
  err.line(`weft: ${liveSummary(r.stats, r.via)}; ${flows} connections`);
  if (writer) err.line(`weft: saved ${(writer as PcapngFileWriter).packets} packets to ${(writer as PcapngFileWriter).files.join(', ')}`);
  return r.failed ? 1 : 0;
}

/**
 * runLive into `threads` engine threads running `task` (shards/): the capture's callback feeds
 * their ring, a timer hands on what waits there every 50 ms, and what they make is written at
 * once — so output comes as promptly as on one thread. `item` gets each item's number and text,
 * and copies what it keeps (the memory is reused).
 */
async function liveOnThreads(
  a: LiveArgs,
  threads: number,
  task: WorkerData['task'],
  item: (id: number, b: Uint8Array, from: number, to: number) => void,
  save: (p: CapturedPacket) => void,
  opened: (w: PcapngFileWriter) => void,
  out: BufferedOut,
  err: BufferedOut,
  started: () => void,
): Promise<Awaited<ReturnType<typeof runLive>>> {
  let r: Awaited<ReturnType<typeof runLive>> = 2;
  await runSharded([], {
    threads,
    task,
    copied: true,
    item: (id, kind, res, _i, from, to) => {
      if (task.kind !== 'messages' || kind === MESSAGE) item(id, res.text, from, to);
    },
    drain: () => (out.pending > 0 ? out.flush() : undefined),
    feed: async (feeder) => {
      const timer = setInterval(() => feeder.flushLive(), 50);
      try {
        r = await runLive(a, { packet: (p) => feeder.livePacket(p), tick: () => feeder.tick(Date.now() / 1000), end: () => {} }, save, opened, out, err, started);
      } finally {
        clearInterval(timer);
      }
      return [];
    },
  });
  return r;
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
  promiscuous?: boolean;
  via?: string;
}

/**
 * Captures on a device into `pipe` until Ctrl-C, the duration or the packet count; idle
 * connections close on the wall clock; output is flushed every second. Returns the capture's
 * counters, or an exit status when the device cannot be opened (the message already printed).
 */
async function runLive(
  a: LiveArgs,
  pipe: Pick<PacketPipeline, 'packet' | 'tick' | 'end'>,
  save: (p: CapturedPacket) => void,
  opened: (w: PcapngFileWriter) => void,
  out: BufferedOut,
  err: BufferedOut,
  started: () => void,
): Promise<{ stats: LiveStats; via: CaptureVia; failed: boolean } | number> {
  const opts = { device: a.device, filter: a.filter, snaplen: a.snaplen, promiscuous: a.promiscuous };
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  let ended: LiveCaptureError | null = null;
  let live;
  try {
    live = openLive(opts, parseVia(a.via ?? process.env.WEFT_CAPTURE_VIA));
    const lv = live;
    lv.onEnd = (e) => {
      ended = e;
      stop();
    };
    await lv.start({
      packet(p) {
        save(p);
        pipe.packet(p);
        if (a.count !== undefined && lv.stats.processed + 1 >= a.count) stop();
      },
    });
    if (a.write) {
      try {
        opened(new PcapngFileWriter(a.write, { linkType: lv.linkType, snapLen: snaplenOf(opts), maxFileBytes: a.ringBytes, maxFiles: a.ringFiles, interfaceName: a.device }));
      } catch (e) {
        await lv.stop();
        throw new LiveCaptureError('failed', (e as Error).message);
      }
    }
  } catch (e) {
    if (e instanceof LiveCaptureError) {
      err.line(`weft: ${e.message}`);
      return 2;
    }
    throw e;
  }
  err.line(`weft: capturing on ${a.device}${a.filter ? ` (${a.filter})` : ''} via ${live.via}; Ctrl-C stops`);
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
  // every packet the helper captured is read before the connections are closed
  await live.stop();
  clearInterval(tick);
  if (timer) clearTimeout(timer);
  process.removeListener('SIGINT', stop);
  process.removeListener('SIGTERM', stop);
  pipe.end();
  if (ended) err.line(`weft: the capture ended by itself: ${(ended as LiveCaptureError).message}`);
  return { stats: live.stats, via: live.via, failed: ended !== null };
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
  via?: string;
  promiscuous?: boolean;
  /** Engine threads (default 1). */
  threads?: number;
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
  const live = { device: a.device, filter: a.filter ?? plugin.bpf, durationSec: a.durationSec, count: a.count, via: a.via, promiscuous: a.promiscuous };
  const pluginOptions = optionsOf(a.options);
  const r =
    (a.threads ?? 1) > 1
      ? await liveOnThreads(live, a.threads!, { kind: 'messages', plugins: [plugin.name], pluginOptions, json: a.json, wall: true, idleSec: a.idleSec, byPort: true }, (_id, b, from, to) => out.lineOf('', b, from, to), () => {}, () => {}, out, err, () => {})
      : await runLive(live, new MessagePipeline((m) => out.line(messageLine(m, a.json)), [plugin], { clock: 'wall', idleSec: a.idleSec, byPort: true, pluginOptions }), () => {}, () => {}, out, err, () => {});
  if (typeof r === 'number') return r;
  err.line(`weft: ${liveSummary(r.stats, r.via)}`);
  return r.failed ? 1 : 0;
}
