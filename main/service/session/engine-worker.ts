/**
 * The engine worker: reads capture files, decodes, reassembles and records, off the main thread.
 * It sends the session at most ten deltas a second (how many rows changed, stats, jobs) and, between
 * input chunks, answers the session's requests: pages of the flow table, stream content from the
 * spool, a flow's protocol messages.
 *
 * Runs as a child process (Node, `weft serve`) or as an Electron utility process; both
 * give it a port with postMessage / on('message').
 */
import { VERSION } from '../version';
import type { Job, SessionStats } from '../../ipc/contract';
import { JobRegistry } from './jobs';
import { Rate } from './rate';
import { readCaptureFile, SourceError } from '../../sources/capture-source';
import { PcapngFileWriter } from '../../sources/capture-file-writer';
import { LiveCaptureError, snaplenOf, type LiveSource } from '../../sources/live-source';
import { openLive } from '../../sources/live';
import { emptyStats, type FromWorker, type ToWorker } from './engine-protocol';
import { exportFlows } from '../export/export';
import { defaultThreads } from '../shards/sharded';
import { flowMessages } from './flow-messages';
import { PacketPipeline } from '../pipeline/packet-pipeline';
import { SessionRecorder } from './session-recorder';
import { Spool } from './spool';
import { PacketLog } from './packet-log';
import { Layouts, marksOfDirection } from './stream-layout';
import { UdpTable } from '../../engine/flows';
import { NODE_HASHES } from '../pipeline/hashes';
import { hostPolicies } from '../pipeline/host-policy';

export interface Port {
  postMessage(m: FromWorker): void;
  on(ev: 'message', fn: (m: ToWorker) => void): void;
}

const DELTA_INTERVAL_MS = 100;
const IDLE_SEC = 600;

export function runEngineWorker(port: Port, spoolParent?: string): void {
  const spool = new Spool(spoolParent);
  const recorder = new SessionRecorder(spool);
  const table = recorder.table;
  // files and live captures feed one pipeline: a connection may span them, like one capture
  const pipe = new PacketPipeline(recorder.factory, { idleSec: IDLE_SEC });
  // every packet of every connection, as the engine judged it (the packet list, the graphs)
  const packets = new PacketLog(spool.dir);
  pipe.assembler.observer = packets;
  // UDP conversations: rows of the same table (one id space), their datagrams' payloads in the spool
  let udpChanged = 0;
  pipe.udp = new UdpTable({
    hashes: NODE_HASHES,
    nextId: () => pipe.assembler.pool.takeId(),
    maxConversations: pipe.assembler.opts.maxConnections,
    opened: (c) => table.openUdp(c),
    datagram: (c, dir, payload, ci) => {
      packets.datagram(c.id, dir, payload.length, ci);
      if (payload.length > 0) spool.append(c.id, dir, payload, 0, payload.length, ci.frame, ci.tsSec, ci.tsNsec);
      table.udpDatagram(c);
      udpChanged++;
    },
    complete: (c) => {
      table.completeUdp(c, c.digest(0, NODE_HASHES), c.digest(1, NODE_HASHES));
      udpChanged++;
    },
  });
  pipe.assembler.afterClose = (id, dir, flags, payload) => recorder.afterClose(id, dir, flags, payload, pipe.assembler.now);
  recorder.packetNo = () => pipe.packets;
  const layouts = new Layouts(spool);
  recorder.factory.payloadOfPacket = () => pipe.last?.payloadLength ?? 0;
  const jobs = new JobRegistry();
  let running = false;
  const stats: SessionStats = emptyStats();
  const rate = new Rate();

  const sendDelta = () => {
    const rows = recorder.takeChanged() + udpChanged;
    udpChanged = 0;
    stats.packets = pipe.packets;
    stats.bytes = pipe.bytes;
    stats.tcpPackets = pipe.tcpPackets;
    const throughput = rate.sample(Date.now(), stats.bytes);
    // an idle engine sends nothing, except once to say the rate fell to 0
    if (!jobs.changed && rows === 0 && throughput === stats.throughput) return;
    stats.throughput = throughput;
    jobs.changed = false;
    stats.activeFlows = table.openCount;
    stats.completedFlows = table.size - table.openCount;
    // decode anomalies (per packet) and stream anomalies (per connection), by kind
    stats.anomalies = { ...(pipe.decoder.anomalies.toObject() as Record<string, number>) };
    for (const [k, v] of Object.entries(table.anomalyTotals)) if (v > 0) stats.anomalies[k] = (stats.anomalies[k] ?? 0) + v;
    stats.decodeErrors = pipe.decoder.anomalies.total() - (pipe.decoder.anomalies.get('non-ip') ?? 0);
    stats.bufferedPages = pipe.assembler.bufferedPages;
    stats.maxConnections = pipe.assembler.opts.maxConnections;
    stats.maxBufferedPages = pipe.assembler.opts.maxBufferedPagesTotal;
    stats.limitClosed = pipe.assembler.stats.connectionsLimited;
    stats.budgetGaps = table.anomalyTotals['buffer-limit'] ?? 0;
    stats.protocols = { ...table.protocols };
    stats.spoolBytes = spool.size;
    stats.memoryMB = Math.round(process.memoryUsage().rss / 1e6);
    // a delta says how many rows changed, never which: its size does not grow with the table
    port.postMessage({ t: 'delta', changed: rows, flows: table.size, stats: { ...stats, anomalies: { ...stats.anomalies } }, jobs: jobs.snapshot() });
  };
  const timer = setInterval(sendDelta, DELTA_INTERVAL_MS);

  async function runQueue(): Promise<void> {
    if (running) return;
    running = true;
    for (let job = jobs.next(); job !== null; job = jobs.next()) {
      const signal = jobs.signal(job.id);
      job.state = jobs.isPaused(job.id) ? 'paused' : 'running';
      jobs.changed = true;
      try {
        const j = job;
        const r = await readCaptureFile(job.path, pipe, {
          signal,
          onProgress: (pr) => {
            j.bytesDone = pr.bytesDone;
            j.bytesTotal = pr.bytesTotal;
            j.packets = pr.packets;
            jobs.changed = true;
          },
          // let timers (deltas) and requests (stream reads, cancels) run between chunks; wait here while paused
          afterChunk: async () => {
            await new Promise<void>((res) => setImmediate(res));
            await jobs.whileHeld(j.id);
          },
        });
        job.packets = r.packets;
        job.bytesTotal = r.bytesTotal;
        job.state = r.cancelled ? 'cancelled' : r.error ? 'failed' : 'done';
        job.error = r.error ? r.error.message : null;
      } catch (e) {
        job.state = 'failed';
        job.error = e instanceof SourceError ? e.message : `${job.path}: ${(e as Error).message}`;
      }
      jobs.finished(job.id);
    }
    pipe.end();
    running = false;
    sendDelta();
  }

  /** Live captures running, by job id. */
  const lives = new Map<number, { lc: LiveSource; writer: PcapngFileWriter | null; tick: ReturnType<typeof setInterval> }>();
  /** Packets lost by captures that have stopped (those running add theirs). */
  let endedDrops = 0;
  const liveDrops = () => endedDrops + [...lives.values()].reduce((n, l) => n + l.lc.stats.dropped, 0);

  /** Counters of a live capture, on its job (the app shows them while it runs). */
  function liveCounters(job: Job, lc: LiveSource): void {
    job.bytesDone = lc.stats.bytes;
    job.packets = lc.stats.processed;
    // in-process, the kernel's drops are read while capturing; dumpcap reports them when it stops
    const known = lc.via === 'libpcap' || lc.stats.kernelDropped !== null;
    job.live = { via: lc.via, received: lc.stats.received, captured: lc.stats.captured ?? lc.stats.received, kernelDropped: known ? (lc.stats.kernelDropped ?? 0) : null };
  }

  async function startLive(job: Job, req: { device: string; filter: string; write?: string; promiscuous?: boolean; snaplen?: number }): Promise<void> {
    const opts = { device: req.device, filter: req.filter, promiscuous: req.promiscuous, snaplen: req.snaplen };
    let writer: PcapngFileWriter | null = null;
    let lc: LiveSource;
    job.state = 'running';
    try {
      lc = openLive(opts);
      const source = lc;
      await source.start({
        packet(p) {
          writer?.packet(p.tsSec, p.tsNsec, p.buf.subarray(p.offset, p.offset + p.capLen), p.origLen);
          pipe.packet(p);
        },
      });
      // the link type is known once the capture runs; a file that cannot be written stops it
      if (req.write) {
        try {
          writer = new PcapngFileWriter(req.write, { linkType: source.linkType, snapLen: snaplenOf(opts), interfaceName: req.device, exclusive: true });
        } catch (e) {
          await source.stop();
          throw e;
        }
      }
    } catch (e) {
      job.state = 'failed';
      job.error = e instanceof LiveCaptureError ? e.message : (e as Error).message;
      jobs.changed = true;
      sendDelta();
      return;
    }
    if (job.state !== 'running') {
      // cancelled while starting
      await lc.stop();
      return;
    }
    // the helper stopped on its own (killed, device gone): the job says why
    lc.onEnd = (e) => void stopLive(job.id, e?.message ?? 'the capture ended by itself');
    // live: connections go idle on the wall clock; counters follow the capture
    const tick = setInterval(() => {
      pipe.tick();
      liveCounters(job, lc);
      stats.drops = liveDrops();
      jobs.changed = true;
    }, 250);
    lives.set(job.id, { lc, writer, tick });
    jobs.changed = true;
  }

  async function stopLive(id: number, error?: string): Promise<void> {
    const l = lives.get(id);
    if (!l) return;
    lives.delete(id);
    clearInterval(l.tick);
    // every packet the helper captured is delivered before the file and the connections close
    await l.lc.stop();
    l.writer?.close({ received: l.lc.stats.received, kernelDropped: l.lc.stats.kernelDropped, comment: `Weft live capture via ${l.lc.via}` });
    const job = jobs.get(id)!;
    liveCounters(job, l.lc);
    endedDrops += l.lc.stats.dropped;
    stats.drops = liveDrops();
    job.state = error ? 'failed' : 'done';
    job.error = error ?? null;
    // the capture is over: its connections complete now, as at the end of a file
    if (!running && lives.size === 0) pipe.end();
    jobs.changed = true;
    sendDelta();
  }

  const trace = process.env.WEFT_TRACE ? (s: string) => process.stderr.write(`engine ${Date.now() % 100000} ${s}\n`) : null;
  port.on('message', (m: ToWorker) => {
    if (trace) {
      trace(`> ${m.t} ${JSON.stringify(m).slice(0, 160)}`);
      const t0 = Date.now();
      handle(m);
      trace(`< ${m.t} ${Date.now() - t0} ms`);
    } else handle(m);
  });
  /** Answers request `reqId` of kind `t` with what `value` computes, or with the message it throws. */
  type Asked = Extract<FromWorker, { reqId: number; value: unknown }>;
  function answer<T extends Asked['t']>(t: T, reqId: number, value: () => NonNullable<Extract<Asked, { t: T }>['value']> | Extract<Asked, { t: T }>['value']): void {
    let msg: FromWorker;
    try {
      msg = { t, reqId, value: value() } as FromWorker;
    } catch (e) {
      msg = { t, reqId, error: (e as Error).message } as FromWorker;
    }
    port.postMessage(msg);
  }

  function handle(m: ToWorker): void {
    switch (m.t) {
      case 'live': {
        void startLive(jobs.add(m.id, 'live', `live:${m.device}${m.filter ? ` (${m.filter})` : ''}`), m);
        return;
      }
      case 'open': {
        jobs.enqueue(jobs.add(m.id, 'file', m.path));
        void runQueue();
        return;
      }
      case 'export': {
        const job = jobs.add(m.id, 'export', m.request.out, 'running');
        const signal = jobs.signal(job.id);
        // the export reads the files again, between this worker's other work (it yields per chunk)
        exportFlows(
          // the flows as the table has them (its limit), read on every core
          { ...m.request, maxConnections: pipe.assembler.opts.maxConnections, version: VERSION, threads: defaultThreads() },
          (p) => {
            job.bytesDone = p.phase === 'flows' ? p.bytesDone / 2 : p.bytesTotal / 2 + p.bytesDone / 2;
            job.bytesTotal = p.bytesTotal;
            jobs.changed = true;
          },
          signal,
        ).then(
          (r) => {
            job.state = 'done';
            job.path = r.dir; // a folder that held files gets a new one inside it: say where
            job.files = r.files;
            job.error = r.errors.length ? r.errors.join('; ') : null; // damaged input: what came before it was exported
            job.packets = r.flows;
            job.bytesDone = job.bytesTotal;
          },
          (e: Error) => {
            job.state = signal.aborted ? 'cancelled' : 'failed';
            job.error = signal.aborted ? null : e.message;
          },
        ).finally(() => jobs.finished(job.id));
        return;
      }
      case 'cancel': {
        if (lives.has(m.id)) return void stopLive(m.id);
        jobs.cancel(m.id);
        return;
      }
      case 'pause':
        jobs.pause(m.id, m.paused);
        return;
      case 'read': {
        const { id, dir, from, to } = m.range;
        if (!table.has(id)) return port.postMessage({ t: 'read', reqId: m.reqId, error: `no connection ${id}` });
        const r = spool.read(id, dir, from, to);
        const marks = table.marksOf(id, dir);
        port.postMessage({
          t: 'read',
          reqId: m.reqId,
          value: { id, dir, from, data: Buffer.from(r.bytes).toString('base64'), length: r.length, provenance: r.provenance, ...marks },
        });
        return;
      }
      case 'messages': {
        if (!table.has(m.id)) return port.postMessage({ t: 'messages', reqId: m.reqId, error: `no connection ${m.id}` });
        port.postMessage({ t: 'messages', reqId: m.reqId, value: flowMessages(spool, m.id, table.protocolOf(m.id), (dir) => table.marksOf(m.id, dir).gaps) });
        return;
      }
      case 'search': {
        const q = m.search;
        if (!table.has(q.id)) return port.postMessage({ t: 'search', reqId: m.reqId, error: `no connection ${q.id}` });
        const hit = spool.search(q.id, q.dir, Buffer.from(q.pattern, 'hex'), q.from, q.back);
        port.postMessage({ t: 'search', reqId: m.reqId, value: hit && { ...hit, otherOffset: spool.offsetAtFrame(q.id, (q.dir ^ 1) as 0 | 1, hit.frame) } });
        return;
      }
      case 'packets': {
        const q = m.range;
        if (!table.has(q.id)) return port.postMessage({ t: 'packets', reqId: m.reqId, error: `no connection ${q.id}` });
        return answer('packets', m.reqId, () => {
          const page = packets.read(q.id, q.from, q.count);
          for (const f of page.frame) page.at.push(spool.offsetAtFrame(q.id, 0, f), spool.offsetAtFrame(q.id, 1, f));
          return page;
        });
      }
      case 'rows': {
        const q = m.rows;
        if (!table.has(q.id)) return port.postMessage({ t: 'rows', reqId: m.reqId, error: `no connection ${q.id}` });
        return answer('rows', m.reqId, () => {
          const l = layouts.get(q.id, q.view, q.wrap, () => [marksOfDirection(table.marksOf(q.id, 0)), marksOfDirection(table.marksOf(q.id, 1))], table.isUdp(q.id));
          const atRow = q.at ? l.rowOf(q.at.dir, q.at.offset) : null;
          // around the row asked for: a third of the page before it
          const from = atRow !== null && atRow >= 0 ? Math.max(0, atRow - Math.floor(q.count / 3)) : q.from;
          const rows = l.read(from, q.count);
          return { id: q.id, view: q.view, wrap: l.wrap, total: l.rows, from, rows, atRow, bytes: [spool.lengthOf(q.id, 0), spool.lengthOf(q.id, 1)] as [number, number] };
        });
      }
      case 'timeline':
        return answer('timeline', m.reqId, () => table.timeline(m.bins, m.filter));
      case 'frame':
        return answer('frame', m.reqId, () => packets.findFrame(m.frame, m.prefer));
      case 'limits':
        pipe.assembler.opts.maxConnections = m.maxConnections;
        jobs.changed = true;
        return;
      case 'policies':
        // checked by the session already: what reaches here compiles
        pipe.assembler.opts.policyFor = hostPolicies(m.rules.map((r) => `${r.net}=${r.policy}`));
        return;
      case 'query':
        return answer('query', m.reqId, () => table.query(m.query));
      case 'keys': {
        const missing = m.ids.filter((id) => !table.has(id));
        if (missing.length) return port.postMessage({ t: 'keys', reqId: m.reqId, error: `no flow ${missing.map((x) => `#${x}`).join(', ')} in this session` });
        port.postMessage({ t: 'keys', reqId: m.reqId, value: m.ids.map((id) => table.key(id)) });
        return;
      }
      case 'stop':
        void Promise.all([...lives.keys()].map((id) => stopLive(id))).then(() => {
          clearInterval(timer);
          jobs.abortAll();
          packets.close();
          spool.dispose();
          port.postMessage({ t: 'stopped' });
          // In a process of its own, leave now (a live capture handle must not outlive it).
          if (typeof process.send === 'function') setTimeout(() => process.exit(0), 50);
        });
        return;
    }
  }
}
