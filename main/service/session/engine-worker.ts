/**
 * The engine: reads capture files and live captures into a ring of shared memory, where N engine
 * worker threads (engine-shard.ts) decode, reassemble and record each its own connections, off
 * the session's thread (engine-shards.ts makes them one numbering and one flow table). It sends
 * the session at most ten deltas a second (how many rows changed, stats, jobs) and answers the
 * session's requests: pages of the flow table here, stream content, messages and packets from
 * the worker that holds the connection.
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
import { defaultThreads, fileSlots, MAX_THREADS } from '../shards/sharded';
import { DEFAULT_ASSEMBLER_OPTIONS } from '../../engine/reassembly';
import { EngineShards } from './engine-shards';
import type { ShardRequest } from './engine-shard';

export interface Port {
  postMessage(m: FromWorker): void;
  on(ev: 'message', fn: (m: ToWorker) => void): void;
}

const DELTA_INTERVAL_MS = 100;
const IDLE_SEC = 600;

/**
 * The engine's worker threads: WEFT_ENGINE_THREADS, else one per core. (WEFT_ENGINE_THREAD_HEAP_MB
 * bounds each one's heap: past it the thread fails, and the engine with a message naming it.)
 */
export function engineThreads(): number {
  const v = Number(process.env.WEFT_ENGINE_THREADS);
  return Number.isInteger(v) && v >= 1 ? Math.min(v, MAX_THREADS) : defaultThreads();
}

export function runEngineWorker(port: Port, spoolParent?: string, threads = engineThreads()): void {
  let maxConnections = DEFAULT_ASSEMBLER_OPTIONS.maxConnections;
  const jobs = new JobRegistry();
  const heapMb = Number(process.env.WEFT_ENGINE_THREAD_HEAP_MB) || undefined;
  const shards = new EngineShards(threads, spoolParent, IDLE_SEC, maxConnections, (e) => failed(e), heapMb);
  const table = shards.table;
  const feeder = shards.feeder;
  let running = false;
  const stats: SessionStats = emptyStats();
  const rate = new Rate();

  const sendDelta = () => {
    const rows = shards.changedRows;
    shards.changedRows = 0;
    stats.packets = feeder.packets;
    stats.bytes = feeder.bytes;
    const t = shards.totals();
    stats.tcpPackets = t.tcpPackets;
    const throughput = rate.sample(Date.now(), stats.bytes);
    // an idle engine sends nothing, except once to say the rate fell to 0
    if (!jobs.changed && rows === 0 && throughput === stats.throughput) return;
    stats.throughput = throughput;
    jobs.changed = false;
    stats.activeFlows = t.open;
    stats.completedFlows = table.size - t.open;
    // decode anomalies (per packet) and stream anomalies (per connection), by kind
    stats.anomalies = { ...t.decodeAnomalies };
    for (const [k, v] of Object.entries(t.streamAnomalies)) stats.anomalies[k] = (stats.anomalies[k] ?? 0) + v;
    stats.decodeErrors = t.decodeTotal - (t.decodeAnomalies['non-ip'] ?? 0);
    stats.bufferedPages = t.bufferedPages;
    stats.maxConnections = maxConnections;
    // each worker has its share of the page budget
    stats.maxBufferedPages = DEFAULT_ASSEMBLER_OPTIONS.maxBufferedPagesTotal;
    stats.limitClosed = t.limitClosed;
    stats.budgetGaps = t.streamAnomalies['buffer-limit'] ?? 0;
    stats.protocols = t.protocols;
    stats.spoolBytes = t.spoolBytes;
    stats.drops = liveDrops();
    stats.memoryMB = Math.round(process.memoryUsage().rss / 1e6);
    // a delta says how many rows changed, never which: its size does not grow with the table
    port.postMessage({ t: 'delta', changed: rows, flows: table.size, stats: { ...stats, anomalies: { ...stats.anomalies } }, jobs: jobs.snapshot() });
  };
  const timer = setInterval(sendDelta, DELTA_INTERVAL_MS);

  /** A worker failed: what is running or queued fails with its message, and so does what comes after. */
  function failed(e: Error): void {
    for (const j of jobs.snapshot())
      if (j.state === 'queued' || j.state === 'running' || j.state === 'paused') {
        const job = jobs.get(j.id)!;
        job.state = 'failed';
        job.error = e.message;
      }
    jobs.changed = true;
    sendDelta();
    // the engine leaves (it runs in a process of its own, a child or a utility process): the
    // session starts a new one; what it held is lost with the thread
    setTimeout(() => process.exit(1), 100);
  }

  /** No file left to read and no capture running: every worker ends what is open, as at the end of a file. */
  async function endInput(): Promise<void> {
    feeder.inputEnd();
    await shards.caughtUp();
  }

  async function runQueue(): Promise<void> {
    if (running) return;
    running = true;
    for (let job = jobs.next(); job !== null; job = jobs.next()) {
      const signal = jobs.signal(job.id);
      job.state = jobs.isPaused(job.id) ? 'paused' : 'running';
      jobs.changed = true;
      try {
        if (shards.failure) throw shards.failure;
        const j = job;
        const r = await readCaptureFile(
          job.path,
          feeder,
          {
            signal,
            onProgress: (pr) => {
              j.bytesDone = pr.bytesDone;
              j.bytesTotal = pr.bytesTotal;
              j.packets = pr.packets;
              jobs.changed = true;
            },
            // the chunk goes to the workers now (not when the next is read: a paused file's last
            // chunk would wait with it); timers (deltas) and requests (stream reads, cancels) run
            // between chunks; wait here while paused
            afterChunk: async () => {
              feeder.publish();
              await new Promise<void>((res) => setImmediate(res));
              await jobs.whileHeld(j.id);
            },
          },
          (fh, _size, onError) => fileSlots(fh, feeder, onError),
        );
        // done when the workers are: the rows of the last queued file are final when it is
        await shards.caughtUp();
        if (jobs.queued === 0) await endInput();
        job.packets = r.packets;
        job.bytesTotal = r.bytesTotal;
        job.state = r.cancelled ? 'cancelled' : r.error ? 'failed' : 'done';
        job.error = r.error ? r.error.message : null;
      } catch (e) {
        job.state = 'failed';
        job.error = e instanceof SourceError || e === shards.failure ? (e as Error).message : `${job.path}: ${(e as Error).message}`;
      }
      jobs.finished(job.id);
    }
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

  /** Captures being started (files opened meanwhile wait for them as for those running). */
  let starting = 0;
  const capturing = () => lives.size > 0 || starting > 0;

  async function startLive(job: Job, req: { device: string; filter: string; write?: string; promiscuous?: boolean; snaplen?: number }): Promise<void> {
    starting++;
    try {
      await beginLive(job, req);
    } finally {
      starting--;
      // one that failed or was cancelled: files opened meanwhile are read now
      if (!capturing()) void runQueue();
    }
  }

  async function beginLive(job: Job, req: { device: string; filter: string; write?: string; promiscuous?: boolean; snaplen?: number }): Promise<void> {
    const opts = { device: req.device, filter: req.filter, promiscuous: req.promiscuous, snaplen: req.snaplen };
    let writer: PcapngFileWriter | null = null;
    let lc: LiveSource;
    job.state = 'running';
    try {
      if (shards.failure) throw shards.failure;
      // a capture's packets and a file's are one timeline in the engine: mixed, each would make the other's connections look idle
      if (running) throw new Error(`a file is being read (${jobs.snapshot().find((j) => j.kind === 'file' && (j.state === 'running' || j.state === 'paused'))?.path ?? 'queued'}): wait for it to finish or cancel it, then start the capture`);
      lc = openLive(opts);
      const source = lc;
      await source.start({
        packet(p) {
          writer?.packet(p.tsSec, p.tsNsec, p.buf.subarray(p.offset, p.offset + p.capLen), p.origLen);
          feeder.livePacket(p);
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
    // live: connections go idle on the wall clock; packets reach the workers at least every 50 ms; counters follow the capture
    let n = 0;
    const tick = setInterval(() => {
      if (++n % 5 === 0) feeder.tick(Date.now() / 1000);
      else feeder.flushLive();
      liveCounters(job, lc);
      jobs.changed = true;
    }, 50);
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
    // the capture is over: its connections complete now, as at the end of a file
    if (!capturing() && !shards.failure) await endInput().catch(() => {});
    const why = error ?? shards.failure?.message;
    job.state = why ? 'failed' : 'done';
    job.error = why ?? null;
    jobs.changed = true;
    sendDelta();
    // files opened while it captured are read now
    if (!capturing()) void runQueue();
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
  type ValueOf<T extends Asked['t']> = Extract<Asked, { t: T }>['value'];
  function answer<T extends Asked['t']>(t: T, reqId: number, value: () => ValueOf<T>): void {
    let msg: FromWorker;
    try {
      msg = { t, reqId, value: value() } as FromWorker;
    } catch (e) {
      msg = { t, reqId, error: (e as Error).message } as FromWorker;
    }
    port.postMessage(msg);
  }

  /**
   * Request `m` about connection `id` (capture-wide), asked of the worker that holds it with its
   * number there; the answer's `id` is the capture-wide one again.
   */
  function forward<T extends ShardRequest['t'] & Asked['t']>(m: Extract<ShardRequest, { t: T }>, id: number, local: (n: number) => Extract<ShardRequest, { t: T }>): void {
    const at = shards.locate(id);
    if (at === null) return port.postMessage({ t: m.t, reqId: m.reqId, error: `no connection ${id}` } as FromWorker);
    shards.ask<ValueOf<T>>(at.worker, local(at.local)).then(
      (v) => port.postMessage({ t: m.t, reqId: m.reqId, value: v !== null && typeof v === 'object' && 'id' in v ? { ...v, id } : v } as FromWorker),
      (e: Error) => port.postMessage({ t: m.t, reqId: m.reqId, error: e.message.replace(/^no connection \d+$/, `no connection ${id}`) } as FromWorker),
    );
  }

  /** The flow that has frame `frame` (the `prefer`red one if it does): every worker looks in its own. */
  async function findFrame(frame: number, prefer?: number): Promise<ValueOf<'frame'>> {
    const p = prefer === undefined ? null : shards.locate(prefer);
    const found = await Promise.all(Array.from({ length: threads }, (_, w) => shards.ask<ValueOf<'frame'>>(w, { t: 'frame', reqId: 0, frame, prefer: p !== null && p.worker === w ? p.local : undefined })));
    let best: ValueOf<'frame'> = null;
    for (const [w, f] of found.entries()) {
      if (f === null) continue;
      const id = shards.globalId(w, f.id);
      if (id === prefer) return { id, index: f.index };
      if (best === null || id < best.id) best = { id, index: f.index };
    }
    return best;
  }

  function handle(m: ToWorker): void {
    switch (m.t) {
      case 'live': {
        void startLive(jobs.add(m.id, 'live', `live:${m.device}${m.filter ? ` (${m.filter})` : ''}`), m);
        return;
      }
      case 'open': {
        jobs.enqueue(jobs.add(m.id, 'file', m.path));
        // while a capture runs, files wait for it to stop (see startLive)
        if (!capturing()) void runQueue();
        return;
      }
      case 'export': {
        const job = jobs.add(m.id, 'export', m.request.out, 'running');
        const signal = jobs.signal(job.id);
        // the export reads the files again, between this worker's other work (it yields per chunk)
        exportFlows(
          // the flows as the table has them (its limit), read on every core
          { ...m.request, maxConnections, version: VERSION, threads: defaultThreads() },
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
      case 'read':
        return forward(m, m.range.id, (id) => ({ ...m, range: { ...m.range, id } }));
      case 'messages':
        return forward(m, m.id, (id) => ({ ...m, id }));
      case 'search':
        return forward(m, m.search.id, (id) => ({ ...m, search: { ...m.search, id } }));
      case 'packets':
        return forward(m, m.range.id, (id) => ({ ...m, range: { ...m.range, id } }));
      case 'rows':
        return forward(m, m.rows.id, (id) => ({ ...m, rows: { ...m.rows, id } }));
      case 'frame':
        findFrame(m.frame, m.prefer).then(
          (value) => port.postMessage({ t: 'frame', reqId: m.reqId, value }),
          (e: Error) => port.postMessage({ t: 'frame', reqId: m.reqId, error: e.message }),
        );
        return;
      case 'timeline':
        return answer('timeline', m.reqId, () => table.timeline(m.bins, m.filter));
      case 'limits':
        maxConnections = m.maxConnections;
        shards.setLimit(m.maxConnections);
        jobs.changed = true;
        return;
      case 'policies':
        // checked by the session already: what reaches here compiles
        shards.setPolicies(m.rules.map((r) => `${r.net}=${r.policy}`));
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
        void Promise.all([...lives.keys()].map((id) => stopLive(id))).then(async () => {
          clearInterval(timer);
          jobs.abortAll();
          // each worker removes its spool
          await shards.stop();
          port.postMessage({ t: 'stopped' });
          // In a process of its own, leave now (a live capture handle must not outlive it).
          if (typeof process.send === 'function') setTimeout(() => process.exit(0), 50);
        });
        return;
    }
  }
}
