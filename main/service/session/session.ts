/**
 * A session: the capture files being analysed, the engine host working on them, and the flow
 * table the UI pages through. It implements every request channel of main/ipc/contract.ts (so
 * Electron IPC and `weft serve` share it) and forwards the worker's deltas — at most about ten a
 * second however fast packets come — to whoever listens.
 *
 * Requests never throw: they answer {ok:false, error} with a message a person can act on.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants, open } from 'node:fs/promises';
import { engineBundle } from '../hosts/child-host';
import { isPcapMagic, isPcapngMagic } from '../../engine/formats';
import type { Channels, Device, EngineNote, FlowMessages, FlowPage, FlowQuery, Job, Result, SessionDelta, SessionStats, StreamChunk, StreamRange } from '../../ipc/contract';
import { emptyStats, type EngineHost, type FromWorker, type ToWorker } from './engine-protocol';
import type { RecentFiles } from '../recent';
import { selfTest, selfTestRoot } from '../selftest';
import { replayPolicies } from '../pipeline/replay';
import { hostPolicies } from '../pipeline/host-policy';


/** The cap probe in a Node process of its own (weft serve, tests): what it printed. */
function nodeProbe(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [engineBundle('cap-probe.cjs'), ...args], { timeout: 10_000 }, (err, stdout) => (stdout || !err ? resolve(stdout) : reject(err)));
  });
}

/** How long a request waits for the engine's answer. */
const ASK_TIMEOUT_MS = 60_000;

/** Device lists and filter checks waiting (one runs at a time). */
const PROBES_WAITING = 8;

export class Session {
  /** Rows in the engine's flow table (the table itself lives with the engine; pages are asked for). */
  private flows = 0;
  private stats: SessionStats = emptyStats();
  private jobs: Job[] = [];
  private nextJob = 1;
  private nextReq = 1;
  /** Requests to the worker awaiting its answer, by request id. */
  private readonly pending = new Map<number, (answer: Result<unknown>) => void>();
  private readonly listeners = new Set<(d: SessionDelta) => void>();
  private readonly idleWaiters: (() => void)[] = [];
  /** The connection limit set (a new session's engine gets it too). */
  private limit: number | null = null;
  private hostRules: { net: string; policy: string }[] = [];

  constructor(
    private host: EngineHost,
    /** Where opened files are remembered between runs (none: not remembered). */
    private readonly recent: RecentFiles | null = null,
    /** Makes a fresh engine for newSession (none: newSession is refused). */
    private readonly makeHost: (() => EngineHost) | null = null,
    /** How long a request waits for the engine's answer (default ASK_TIMEOUT_MS). */
    private readonly askTimeoutMs = ASK_TIMEOUT_MS,
    /**
     * Runs the cap probe with `args`, resolving with what it printed (default: a Node process; the
     * desktop app gives a utility process, as its binary does not run scripts: RunAsNode is off).
     */
    private readonly runProbe: (args: string[]) => Promise<string> = nodeProbe,
  ) {
    this.attach(host);
  }

  /** Listens to an engine host: its messages, and its end if nobody asked for it. */
  private attach(host: EngineHost): void {
    host.onMessage((m) => {
      if (host === this.host) this.onWorker(m);
    });
    host.onExit((why) => {
      if (host === this.host) this.engineLost(why);
    });
  }

  /** Engine restarts after a crash (shown in the jobs that failed with it). */
  engineRestarts = 0;
  /** The newest job id the engine has reported (jobs above it were posted and not seen yet). */
  private lastEngineJob = 0;
  /** What the page is told about the last engine that stopped on its own (sent with every delta after it). */
  private engineNote: EngineNote | undefined;

  /**
   * The engine's process ended on its own (a crash, the OOM killer, a kill): every request waiting
   * for it fails with a clear error, the files it was reading fail (their flows went with it), a
   * fresh engine takes over with this session's settings, and the page is told. Nothing hangs.
   */
  private engineLost(why: string): void {
    const error = `the engine stopped (${why}); a new one was started — open the file again`;
    for (const [, answer] of this.pending) answer({ ok: false, error: `the engine stopped (${why}) before answering; a new one was started: try again` });
    this.pending.clear();
    this.jobs = this.jobs.map((j) => (j.state === 'queued' || j.state === 'running' || j.state === 'paused' ? { ...j, state: 'failed', error } : j));
    this.flows = 0;
    this.stats = { ...emptyStats(), maxConnections: this.limit ?? emptyStats().maxConnections };
    if (this.makeHost) {
      this.engineRestarts++;
      this.host = this.makeHost();
      this.attach(this.host);
      if (this.limit !== null) this.host.post({ t: 'limits', maxConnections: this.limit });
      if (this.hostRules.length) this.host.post({ t: 'policies', rules: this.hostRules });
    }
    this.engineNote = { restarts: this.engineRestarts, why, restarted: this.makeHost !== null };
    const d: SessionDelta = { changed: 1, flows: 0, stats: this.stats, jobs: this.jobs, engine: this.engineNote };
    for (const l of this.listeners) l(d);
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private onWorker(m: FromWorker): void {
    if (m.t === 'delta') {
      this.flows = m.flows;
      this.stats = m.stats;
      // a job posted to the engine after it sent this delta is not in it yet: it stays, queued
      // (else whenIdle() could end, and the page lose the job, before the engine saw it)
      const known = new Set(m.jobs.map((j) => j.id));
      const posted = this.jobs.filter((j) => !known.has(j.id) && j.state === 'queued' && j.id > this.lastEngineJob);
      for (const j of m.jobs) if (j.id > this.lastEngineJob) this.lastEngineJob = j.id;
      this.jobs = posted.length ? [...m.jobs, ...posted] : m.jobs;
      const d: SessionDelta = { changed: m.changed, flows: m.flows, stats: m.stats, jobs: this.jobs, engine: this.engineNote };
      for (const l of this.listeners) l(d);
      if (this.idle()) for (const w of this.idleWaiters.splice(0)) w();
    } else if (m.t !== 'stopped') {
      this.pending.get(m.reqId)?.(m.error !== undefined ? { ok: false, error: m.error } : { ok: true, value: m.value });
      this.pending.delete(m.reqId);
    }
  }

  private idle(): boolean {
    return this.jobs.every((j) => j.state !== 'queued' && j.state !== 'running' && j.state !== 'paused');
  }

  /** Resolves when every queued file has been read (for tests and the CLI). */
  whenIdle(): Promise<void> {
    if (this.idle() && this.jobs.length > 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Subscribes to deltas; returns the unsubscribe function. */
  onDelta(fn: (d: SessionDelta) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Queues a capture file. Checks it exists and looks like a capture first. */
  async openCapture(req: Channels['openCapture']['req']): Promise<Result<Job>> {
    const path = req.path;
    let fh;
    try {
      // non-blocking: opening a FIFO with no writer would otherwise hold one of libuv's four threads until one comes
      fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (e as Error).message;
      return { ok: false, error: `${path}: ${why}` };
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) return { ok: false, error: `${path}: not a regular file (give the path of a .pcap or .pcapng file)` };
      const head = new Uint8Array(4);
      const { bytesRead } = await fh.read(head, 0, 4, 0);
      if (bytesRead < 4 || !(isPcapMagic(head) || isPcapngMagic(head)))
        return { ok: false, error: `${path}: not a pcap or pcapng file (convert other formats with editcap or tshark -F pcapng)` };
    } finally {
      await fh.close();
    }
    const job: Job = { id: this.nextJob++, kind: 'file', path, bytesDone: 0, bytesTotal: 0, packets: 0, state: 'queued', error: null };
    this.jobs = [...this.jobs, job];
    this.host.post({ t: 'open', id: job.id, path });
    this.recent?.add(path);
    return { ok: true, value: job };
  }

  /**
   * Exports flows of the files this session read (in the order they were opened: the flows'
   * numbers are theirs). A live capture is not re-readable: saved with "save to", it exports once
   * opened as a file.
   */
  async exportFlows(req: Channels['exportFlows']['req']): Promise<Result<Job>> {
    if (this.jobs.some((j) => j.kind === 'live')) return { ok: false, error: 'this session has a live capture, which cannot be read again: save it (save to …), then open the saved file in a new session and export from there' };
    const busy = this.jobs.find((j) => j.kind === 'file' && (j.state === 'queued' || j.state === 'running' || j.state === 'paused'));
    if (busy) return { ok: false, error: `${busy.path} is still being read: export when it is done` };
    // every file whose flows are in the table (one cancelled part-way is read whole: flows are named by key)
    let files = this.jobs.filter((j) => j.kind === 'file' && (j.state === 'done' || j.state === 'cancelled' || (j.state === 'failed' && j.packets > 0))).map((j) => j.path);
    if (files.length === 0) return { ok: false, error: 'nothing to export yet: open a capture file first' };
    // a file removed since it was read: chosen flows can still come from the others (the export
    // says so if some cannot); "all shown" would silently miss its flows, so that is refused
    const gone = files.filter((f) => !existsSync(f));
    if (gone.length && !req.ids) return { ok: false, error: `${gone[0]}: no such file any more; its flows cannot be exported (choose flows of the other files)` };
    files = files.filter((f) => !gone.includes(f));
    // the table's numbers are this session's; the export names flows by endpoints and first time
    let keys: string[] | undefined;
    if (req.ids) {
      const k = await this.ask<string[]>((reqId) => ({ t: 'keys', reqId, ids: req.ids! }));
      if (!k.ok) return k;
      keys = k.value;
    }
    const job: Job = { id: this.nextJob++, kind: 'export', path: req.out, bytesDone: 0, bytesTotal: 0, packets: 0, state: 'running', error: null };
    this.jobs = [...this.jobs, job];
    this.host.post({ t: 'export', id: job.id, request: { formats: req.formats, out: req.out, filter: req.ids ? undefined : req.filter, keys, files } });
    return { ok: true, value: job };
  }

  async cancelJob(req: Channels['cancelJob']['req']): Promise<Result<Job>> {
    const j = this.jobs.find((x) => x.id === req.id);
    if (!j) return { ok: false, error: `no job ${req.id}` };
    this.host.post({ t: 'cancel', id: req.id });
    return { ok: true, value: j };
  }

  async pauseJob(req: Channels['pauseJob']['req']): Promise<Result<Job>> {
    const j = this.jobs.find((x) => x.id === req.id);
    if (!j) return { ok: false, error: `no job ${req.id}` };
    if (j.state !== 'running' && j.state !== 'paused' && j.state !== 'queued')
      return { ok: false, error: `job ${req.id} is ${j.state}: only a file being read can be paused or resumed` };
    this.host.post({ t: 'pause', id: req.id, paused: req.paused });
    return { ok: true, value: j };
  }

  /** A page of the flow table: filtered and sorted by the engine, which holds the table. */
  queryFlows(q: FlowQuery): Promise<Result<FlowPage>> {
    return this.ask<FlowPage>((reqId) => ({ t: 'query', reqId, query: q }));
  }

  readStream(r: StreamRange): Promise<Result<StreamChunk>> {
    return this.ask<StreamChunk>((reqId) => ({ t: 'read', reqId, range: r }));
  }

  readMessages(r: Channels['readMessages']['req']): Promise<Result<FlowMessages>> {
    return this.ask<FlowMessages>((reqId) => ({ t: 'messages', reqId, id: r.id }));
  }

  /** Posts a request to the worker and resolves with its answer, or with an error after ASK_TIMEOUT_MS. */
  private ask<T>(make: (reqId: number) => ToWorker): Promise<Result<T>> {
    const reqId = this.nextReq++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (!this.pending.delete(reqId)) return;
        resolve({ ok: false, error: `the engine did not answer within ${this.askTimeoutMs / 1000} s (it may be busy with a large file): try again` });
      }, this.askTimeoutMs);
      timer.unref?.();
      this.pending.set(reqId, (r) => {
        clearTimeout(timer);
        resolve(r as Result<T>);
      });
      this.host.post(make(reqId));
    });
  }

  /**
   * Runs the cap probe in a process of its own (see cap-probe.ts) and returns its answer. One
   * probe runs at a time; up to PROBES_WAITING wait their turn, more are refused (a client asking
   * in a loop would otherwise start a process per request).
   */
  private probe<T>(args: string[]): Promise<Result<T>> {
    if (this.probesWaiting >= PROBES_WAITING) return Promise.resolve({ ok: false, error: 'too many device and filter checks waiting: try again in a moment' });
    this.probesWaiting++;
    const run = (): Promise<Result<T>> =>
      this.runProbe(args).then(
        (stdout) => {
          try {
            return JSON.parse(stdout) as Result<T>;
          } catch {
            return { ok: false, error: `live capture probe failed: it answered ${JSON.stringify(stdout.slice(0, 200))}` };
          }
        },
        (e: Error) => ({ ok: false, error: `live capture probe failed: ${e.message}` }),
      );
    const done = this.probes.then(run);
    this.probes = done.then(
      () => void this.probesWaiting--,
      () => void this.probesWaiting--,
    );
    return done;
  }
  private probes: Promise<void> = Promise.resolve();
  private probesWaiting = 0;

  listDevices(_req: Channels['listDevices']['req'] = {}): Promise<Result<Device[]>> {
    return this.probe(['devices']);
  }

  checkFilter(req: Channels['checkFilter']['req']): Promise<Result<null>> {
    return this.probe(['filter', req.device, req.filter]);
  }

  /** Starts a live capture as a job: flows fill in as packets arrive; cancelJob stops it. */
  async startCapture(req: Channels['startCapture']['req']): Promise<Result<Job>> {
    const job: Job = { id: this.nextJob++, kind: 'live', path: `live:${req.device}`, bytesDone: 0, bytesTotal: 0, packets: 0, state: 'queued', error: null };
    this.jobs = [...this.jobs, job];
    this.host.post({ t: 'live', id: job.id, device: req.device, filter: req.filter, write: req.write, promiscuous: req.promiscuous, snaplen: req.snaplen });
    return { ok: true, value: job };
  }

  /** Finds bytes in a direction of a flow, in the engine's spool. */
  searchStream(req: Channels['searchStream']['req']): Promise<Result<Channels['searchStream']['res']>> {
    return this.ask((reqId) => ({ t: 'search', reqId, search: req }));
  }

  /** Rows of a flow's conversation, laid out by the engine over its spool. */
  readRows(req: Channels['readRows']['req']): Promise<Result<Channels['readRows']['res']>> {
    return this.ask((reqId) => ({ t: 'rows', reqId, rows: req }));
  }

  /** A page of a flow's packets, from the engine's packet log. */
  readPackets(req: Channels['readPackets']['req']): Promise<Result<Channels['readPackets']['res']>> {
    return this.ask((reqId) => ({ t: 'packets', reqId, range: req }));
  }

  /** The flow of frame N and its place among the flow's packets. */
  findFrame(req: Channels['findFrame']['req']): Promise<Result<Channels['findFrame']['res']>> {
    return this.ask((reqId) => ({ t: 'frame', reqId, frame: req.frame, prefer: req.prefer }));
  }

  /** Sets the engine's connection limit (weft serve --max-connections, the status bar's control). */
  async setLimits(req: Channels['setLimits']['req']): Promise<Result<Channels['setLimits']['res']>> {
    this.limit = req.maxConnections;
    this.host.post({ t: 'limits', maxConnections: req.maxConnections });
    this.stats = { ...this.stats, maxConnections: req.maxConnections };
    return { ok: true, value: { maxConnections: req.maxConnections } };
  }

  /** Per-host overlap policies for what is read from now on (target-based reassembly); refused whole when a rule does not read. */
  async setHostPolicies(req: Channels['setHostPolicies']['req']): Promise<Result<Channels['setHostPolicies']['res']>> {
    try {
      hostPolicies(req.rules.map((r) => `${r.net}=${r.policy}`));
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
    this.hostRules = req.rules.map((r) => ({ net: r.net.trim(), policy: r.policy }));
    this.host.post({ t: 'policies', rules: this.hostRules });
    return { ok: true, value: { rules: this.hostRules } };
  }

  /** Flows started and active over time (the timeline above the flows table). */
  flowTimeline(req: Channels['flowTimeline']['req']): Promise<Result<Channels['flowTimeline']['res']>> {
    return this.ask((reqId) => ({ t: 'timeline', reqId, bins: req.bins, filter: req.filter }));
  }

  /**
   * Flow `id` replayed under every overlap policy (its packets read again from the session's
   * files, main/service/pipeline/replay.ts): what each target host would have seen of it.
   */
  async comparePolicies(req: Channels['comparePolicies']['req']): Promise<Result<Channels['comparePolicies']['res']>> {
    if (this.jobs.some((j) => j.kind === 'live')) return { ok: false, error: 'this session has a live capture, which cannot be read again: save it, then open the saved file to compare policies' };
    const files = this.jobs.filter((j) => j.kind === 'file' && (j.state === 'done' || j.state === 'cancelled' || (j.state === 'failed' && j.packets > 0))).map((j) => j.path).filter((f) => existsSync(f));
    if (files.length === 0) return { ok: false, error: 'no capture file to read the flow again from' };
    const page = await this.queryFlows({ offset: 0, limit: 1, filter: `id == ${req.id}` });
    if (!page.ok) return page;
    const row = page.value.rows[0];
    if (!row) return { ok: false, error: `no flow #${req.id}` };
    if (row.transport !== 'tcp') return { ok: false, error: `flow #${req.id} is a UDP conversation: overlap policies are TCP's` };
    try {
      return { ok: true, value: await replayPolicies(files, row.client, row.server, row.firstSeen) };
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
  }

  /** Help › Self-test: the shipped captures against tshark's stored reassembly (main/service/selftest.ts). */
  async selfTest(_req: Channels['selfTest']['req'] = {}): Promise<Result<Channels['selfTest']['res']>> {
    const root = selfTestRoot();
    if (root === null) return { ok: false, error: 'no self-test captures found beside the app (selftest/) or in the source tree (test/fixtures/); set WEFT_SELFTEST_DIR to a folder holding real/EXPECTED.json' };
    return { ok: true, value: await selfTest(root) };
  }

  /** The files opened lately, newest first (kept between runs). */
  async listRecent(_req: Channels['listRecent']['req'] = {}): Promise<Result<string[]>> {
    return { ok: true, value: this.recent?.list() ?? [] };
  }

  /**
   * Closes everything this session holds — files, live captures, the flow table, the spool — and
   * starts over with a fresh engine (the "close" / "new session" of the toolbar).
   */
  async newSession(_req: Channels['newSession']['req'] = {}): Promise<Result<null>> {
    if (!this.makeHost) return { ok: false, error: 'this session cannot be replaced (no engine factory)' };
    const old = this.host;
    for (const [, answer] of this.pending) answer({ ok: false, error: 'the session was closed' });
    this.pending.clear();
    this.host = this.makeHost();
    this.attach(this.host);
    this.flows = 0;
    this.jobs = [];
    this.stats = emptyStats();
    this.engineNote = undefined;
    if (this.limit !== null) {
      this.host.post({ t: 'limits', maxConnections: this.limit });
      this.stats.maxConnections = this.limit;
    }
    if (this.hostRules.length) this.host.post({ t: 'policies', rules: this.hostRules });
    await old.terminate();
    const d: SessionDelta = { changed: 1, flows: 0, stats: this.stats, jobs: [] };
    for (const l of this.listeners) l(d);
    return { ok: true, value: null };
  }

  async getState(_req: Channels['getState']['req'] = {}): Promise<Result<SessionDelta>> {
    return { ok: true, value: { changed: 0, flows: this.flows, stats: this.stats, jobs: this.jobs, engine: this.engineNote } };
  }

  get flowCount(): number {
    return this.flows;
  }

  async close(): Promise<void> {
    await this.host.terminate();
  }
}
