/**
 * The engine worker: reads capture files, decodes, reassembles and records, off the main thread.
 * It sends the session at most ten deltas a second (the rows that changed, stats, jobs) and
 * answers stream-content requests from the spool between input chunks.
 *
 * Runs as a worker_threads Worker (Node, `weft serve`) or as an Electron utility process; both
 * give it a port with postMessage / on('message').
 */
import type { Job, SessionStats } from '../ipc/contract';
import { readCaptureFile, SourceError } from '../sources/capture-source';
import { PcapngFileWriter } from '../sources/capture-file-writer';
import { LiveCapture, LiveCaptureError } from '../sources/live-source';
import { emptyStats, type FromWorker, type ToWorker } from './engine-protocol';
import { exportFlows } from './export/export';
import { flowMessages } from './flow-messages';
import { PacketPipeline } from './packet-pipeline';
import { SessionRecorder } from './session/session-recorder';
import { Spool } from './spool';

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
  recorder.factory.payloadOfPacket = () => pipe.last?.payloadLength ?? 0;
  const jobs: Job[] = [];
  const queue: Job[] = [];
  const cancels = new Map<number, AbortController>();
  let running = false;
  const stats: SessionStats = emptyStats();
  /** Jobs paused, with what resumes them. */
  const paused = new Map<number, { wait: Promise<void>; resume: () => void }>();
  let lastBytes = 0;
  let lastTime = Date.now();
  let changed = true;

  const sendDelta = () => {
    const rows = recorder.takeChanged();
    stats.packets = pipe.packets;
    stats.bytes = pipe.bytes;
    stats.tcpPackets = pipe.tcpPackets;
    if (!changed && rows === 0) return;
    changed = false;
    const now = Date.now();
    if (now - lastTime >= 1000) {
      stats.throughput = ((stats.bytes - lastBytes) * 1000) / (now - lastTime);
      lastBytes = stats.bytes;
      lastTime = now;
    }
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
    port.postMessage({ t: 'delta', changed: rows, flows: table.size, stats: { ...stats, anomalies: { ...stats.anomalies } }, jobs: jobs.map((j) => ({ ...j })) });
  };
  const timer = setInterval(sendDelta, DELTA_INTERVAL_MS);

  async function runQueue(): Promise<void> {
    if (running) return;
    running = true;
    while (queue.length > 0) {
      const job = queue.shift()!;
      if (job.state === 'cancelled') continue;
      const ac = new AbortController();
      cancels.set(job.id, ac);
      job.state = paused.has(job.id) ? 'paused' : 'running';
      changed = true;
      try {
        const r = await readCaptureFile(job.path, pipe, {
          signal: ac.signal,
          onProgress: (pr) => {
            job.bytesDone = pr.bytesDone;
            job.bytesTotal = pr.bytesTotal;
            job.packets = pr.packets;
            changed = true;
          },
          // let timers (deltas) and requests (stream reads, cancels) run between chunks; wait here while paused
          afterChunk: async () => {
            await new Promise<void>((res) => setImmediate(res));
            const p = paused.get(job.id);
            if (p) await p.wait;
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
      cancels.delete(job.id);
      changed = true;
    }
    pipe.end();
    running = false;
    sendDelta();
  }

  /** Live captures running, by job id. */
  const lives = new Map<number, { lc: LiveCapture; writer: PcapngFileWriter | null; tick: ReturnType<typeof setInterval> }>();

  function startLive(job: Job, device: string, filter: string, write?: string): void {
    const lc = new LiveCapture({ device, filter });
    let writer: PcapngFileWriter | null = null;
    try {
      lc.start({
        packet(p) {
          writer?.packet(p.tsSec, p.tsNsec, p.buf.subarray(p.offset, p.offset + p.capLen), p.origLen);
          pipe.packet(p);
        },
      });
      if (write) writer = new PcapngFileWriter(write, { linkType: lc.linkType, interfaceName: device });
    } catch (e) {
      job.state = 'failed';
      job.error = e instanceof LiveCaptureError ? e.message : (e as Error).message;
      changed = true;
      return;
    }
    job.state = 'running';
    // live: connections go idle on the wall clock; counters follow the capture
    const tick = setInterval(() => {
      pipe.tick();
      job.bytesDone = lc.stats.bytes;
      job.packets = lc.stats.processed;
      stats.drops = [...lives.values()].reduce((n, l) => n + l.lc.stats.dropped, 0);
      changed = true;
    }, 250);
    lives.set(job.id, { lc, writer, tick });
    changed = true;
  }

  function stopLive(id: number): void {
    const l = lives.get(id);
    if (!l) return;
    l.lc.stop();
    clearInterval(l.tick);
    l.writer?.close();
    lives.delete(id);
    const job = jobs.find((j) => j.id === id)!;
    job.bytesDone = l.lc.stats.bytes;
    job.packets = l.lc.stats.processed;
    job.state = 'done';
    // the capture is over: its connections complete now, as at the end of a file
    if (!running && lives.size === 0) pipe.end();
    changed = true;
    sendDelta();
  }

  port.on('message', (m: ToWorker) => {
    switch (m.t) {
      case 'live': {
        const job: Job = { id: m.id, kind: 'live', path: `live:${m.device}${m.filter ? ` (${m.filter})` : ''}`, bytesDone: 0, bytesTotal: 0, packets: 0, state: 'queued', error: null };
        jobs.push(job);
        startLive(job, m.device, m.filter, m.write);
        return;
      }
      case 'open': {
        const job: Job = { id: m.id, kind: 'file', path: m.path, bytesDone: 0, bytesTotal: 0, packets: 0, state: 'queued', error: null };
        jobs.push(job);
        queue.push(job);
        changed = true;
        void runQueue();
        return;
      }
      case 'export': {
        const job: Job = { id: m.id, kind: 'export', path: m.request.out, bytesDone: 0, bytesTotal: 0, packets: 0, state: 'running', error: null };
        jobs.push(job);
        const ac = new AbortController();
        cancels.set(job.id, ac);
        changed = true;
        // the export reads the files again, between this worker's other work (it yields per chunk)
        exportFlows(
          m.request,
          (p) => {
            job.bytesDone = p.phase === 'flows' ? p.bytesDone / 2 : p.bytesTotal / 2 + p.bytesDone / 2;
            job.bytesTotal = p.bytesTotal;
            changed = true;
          },
          ac.signal,
        ).then(
          (r) => {
            job.state = 'done';
            job.files = r.files;
            job.error = r.errors.length ? r.errors.join('; ') : null; // damaged input: what came before it was exported
            job.packets = r.flows;
            job.bytesDone = job.bytesTotal;
          },
          (e: Error) => {
            job.state = ac.signal.aborted ? 'cancelled' : 'failed';
            job.error = ac.signal.aborted ? null : e.message;
          },
        ).finally(() => {
          cancels.delete(job.id);
          changed = true;
        });
        return;
      }
      case 'cancel': {
        if (lives.has(m.id)) return stopLive(m.id);
        const j = jobs.find((x) => x.id === m.id);
        if (j && j.state === 'queued') j.state = 'cancelled';
        cancels.get(m.id)?.abort();
        paused.get(m.id)?.resume();
        changed = true;
        return;
      }
      case 'pause': {
        const j = jobs.find((x) => x.id === m.id);
        if (!j || (j.state !== 'running' && j.state !== 'paused' && j.state !== 'queued')) return;
        if (m.paused && !paused.has(m.id)) {
          let resume!: () => void;
          const wait = new Promise<void>((r) => (resume = r));
          paused.set(m.id, {
            wait,
            resume: () => {
              paused.delete(m.id);
              if (j.state === 'paused') j.state = 'running';
              changed = true;
              resume();
            },
          });
          j.state = 'paused';
        } else if (!m.paused) paused.get(m.id)?.resume();
        changed = true;
        return;
      }
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
      case 'limits':
        pipe.assembler.opts.maxConnections = m.maxConnections;
        changed = true;
        return;
      case 'query': {
        try {
          port.postMessage({ t: 'query', reqId: m.reqId, value: table.query(m.query) });
        } catch (e) {
          port.postMessage({ t: 'query', reqId: m.reqId, error: (e as Error).message });
        }
        return;
      }
      case 'keys': {
        const missing = m.ids.filter((id) => !table.has(id));
        if (missing.length) return port.postMessage({ t: 'keys', reqId: m.reqId, error: `no flow ${missing.map((x) => `#${x}`).join(', ')} in this session` });
        port.postMessage({ t: 'keys', reqId: m.reqId, value: m.ids.map((id) => table.key(id)) });
        return;
      }
      case 'stop':
        for (const id of [...lives.keys()]) stopLive(id);
        clearInterval(timer);
        for (const c of cancels.values()) c.abort();
        spool.dispose();
        port.postMessage({ t: 'stopped' });
        // In a process of its own, leave now (a live capture handle must not outlive it).
        if (typeof process.send === 'function') setTimeout(() => process.exit(0), 50);
        return;
    }
  });
}
