/**
 * Live capture through Wireshark's own capture program, dumpcap, the way Wireshark does it: the
 * capture rights sit on dumpcap (Debian's wireshark-common gives them to the `wireshark` group),
 * never on Weft, Node or Electron. dumpcap runs as a child in "child mode" (`-Z none`): the
 * capture comes as pcapng on its standard output — kernel timestamps in nanoseconds, true
 * original lengths, the kernel's snaplen — and its reports come on standard error as "sync pipe"
 * records (a type byte, a 24-bit big-endian length, the text): `F` the file is open (capturing),
 * `P` packets captured since the last report, `D` the kernel's drop count at the end,
 * `E` an error (two nested records: the message and what to do), `B` a filter that does not
 * compile.
 *
 * Packets are read from the pipe with the same pcapng reader as files and handed to the sink
 * synchronously, as views of the chunk read.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { CaptureFormatError, CaptureReader, type PacketSink } from '../engine/formats';
import { linkState } from './link-state';
import { LIVE_BUFFER_BYTES, LiveCaptureError, snaplenOf, type DeviceInfo, type LiveOptions, type LiveSource, type LiveStats } from './live-source';

/** The dumpcap to use: $WEFT_DUMPCAP, else the first on PATH (and the usual system folders). */
export function findDumpcap(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.WEFT_DUMPCAP !== undefined) return env.WEFT_DUMPCAP && executable(env.WEFT_DUMPCAP) ? env.WEFT_DUMPCAP : null;
  const dirs = [...(env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/sbin', '/usr/local/bin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, process.platform === 'win32' ? 'dumpcap.exe' : 'dumpcap');
    if (executable(p)) return p;
  }
  return null;
}

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** dumpcap's command line for a capture to standard output. */
export function dumpcapArgs(o: LiveOptions): string[] {
  const args = ['-Z', 'none', '-i', o.device, '-s', String(snaplenOf(o)), '-B', String(Math.max(1, Math.round((o.bufferSize ?? LIVE_BUFFER_BYTES) / (1 << 20))))];
  if (o.promiscuous === false) args.push('-p');
  if (o.filter) args.push('-f', o.filter);
  args.push('-w', '-', '-n');
  return args;
}


export interface SyncRecord {
  type: string;
  /** The text, without its final NUL; an `E` record's two parts are in `parts`. */
  text: string;
  parts: string[];
}

/** Splits dumpcap's sync pipe into records (they may arrive cut anywhere). */
export class SyncPipeReader {
  private pending = Buffer.alloc(0);

  push(chunk: Uint8Array): SyncRecord[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : Buffer.from(chunk);
    const out: SyncRecord[] = [];
    let i = 0;
    while (this.pending.length - i >= 4) {
      const len = (this.pending[i + 1] << 16) | (this.pending[i + 2] << 8) | this.pending[i + 3];
      if (this.pending.length - i - 4 < len) break;
      const type = String.fromCharCode(this.pending[i]);
      const body = this.pending.subarray(i + 4, i + 4 + len);
      out.push({ type, text: text(body), parts: type === 'E' ? nested(body) : [] });
      i += 4 + len;
    }
    this.pending = this.pending.subarray(i);
    // not a sync pipe at all (an old dumpcap printing text): keep it bounded
    if (this.pending.length > 1 << 20) this.pending = Buffer.alloc(0);
    return out;
  }
}

function text(b: Uint8Array): string {
  const end = b.length > 0 && b[b.length - 1] === 0 ? b.length - 1 : b.length;
  return Buffer.from(b.buffer, b.byteOffset, end).toString('utf8');
}

function nested(b: Uint8Array): string[] {
  const parts: string[] = [];
  let i = 0;
  while (b.length - i >= 4) {
    const len = (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3];
    parts.push(text(b.subarray(i + 4, Math.min(b.length, i + 4 + len))));
    i += 4 + len;
  }
  return parts;
}

/** Where dumpcap says capture rights come from, shortened to what a user does. */
export const DUMPCAP_PERMISSION_FIX =
  "add yourself to the 'wireshark' group (sudo dpkg-reconfigure wireshark-common, answer yes; then sudo usermod -aG wireshark $USER and log in again); on other systems give dumpcap the capture rights: sudo setcap cap_net_raw,cap_net_admin+eip \"$(command -v dumpcap)\"";

/** A dumpcap error record as a LiveCaptureError of the right kind. */
export function dumpcapError(r: SyncRecord, o: LiveOptions, devices?: () => string[]): LiveCaptureError {
  if (r.type === 'B') {
    const msg = r.text.replace(/^\d+:/, '');
    return new LiveCaptureError('bad-filter', `bad capture filter '${o.filter}': ${msg}`);
  }
  const [primary = r.text, secondary = ''] = r.parts;
  const first = primary.replace(/\s+/g, ' ').trim();
  if (/permission/i.test(primary)) return new LiveCaptureError('permission', `cannot capture on ${o.device}: ${first}`, DUMPCAP_PERMISSION_FIX);
  if (/no device named|no such device/i.test(primary)) return new LiveCaptureError('no-device', `no capture device '${o.device}'`, devices ? `pick one of: ${devices().join(', ')} (weft devices)` : 'pick one of the devices weft devices lists');
  const hint = secondary.split('\n')[0]?.trim();
  return new LiveCaptureError('failed', `cannot capture on ${o.device}: ${first}`, hint);
}

export class DumpcapCapture implements LiveSource {
  readonly via = 'dumpcap' as const;
  readonly stats: LiveStats = { received: 0, processed: 0, dropped: 0, bytes: 0, kernelDropped: null, captured: 0 };
  linkType = -1;
  private child: ChildProcess | null = null;
  private ended: Promise<void> | null = null;
  /** Called if the capture ends without stop() (dumpcap failed or was killed), with why. */
  onEnd: ((error: LiveCaptureError | null) => void) | null = null;
  private stopping = false;

  constructor(
    private readonly opts: LiveOptions,
    private readonly dumpcap = findDumpcap(),
  ) {}

  /** Starts dumpcap; resolves once it captures (its output open), rejects with what it said. */
  start(sink: PacketSink): Promise<void> {
    const exe = this.dumpcap;
    if (!exe) return Promise.reject(new LiveCaptureError('unavailable', 'dumpcap is not installed', 'install it: sudo apt install wireshark-common (or tshark); or capture in-process as root'));
    const o = this.opts;
    // its own process group: a terminal's Ctrl-C stops Weft, which then stops dumpcap and reads the rest
    const child = spawn(exe, dumpcapArgs(o), { stdio: ['ignore', 'pipe', 'pipe'], detached: process.platform !== 'win32' });
    this.child = child;
    const st = this.stats;
    const reader = new CaptureReader({
      packet: (p) => {
        st.received++;
        st.bytes += p.origLen;
        if (this.linkType < 0) this.linkType = p.linkType;
        sink.packet(p);
        st.processed++;
      },
    });
    const sync = new SyncPipeReader();
    let failure: LiveCaptureError | null = null;
    let capturing = false;
    let stderrText = '';
    return new Promise<void>((resolve, reject) => {
      const started = () => {
        if (capturing || failure) return;
        if (reader.interfaces.length === 0) return; // the header first: the link type is known
        capturing = true;
        this.linkType = reader.interfaces[0].linkType;
        resolve();
      };
      const fail = (e: LiveCaptureError) => {
        failure ??= e;
        if (!capturing) reject(failure);
      };
      child.on('error', (e) => fail(new LiveCaptureError('unavailable', `cannot run ${exe}: ${e.message}`, 'install dumpcap (wireshark-common) or set WEFT_DUMPCAP to its path')));
      child.stdout!.on('data', (chunk: Buffer) => {
        if (failure && !capturing) return;
        try {
          reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
        } catch (e) {
          if (!(e instanceof CaptureFormatError)) throw e;
          fail(new LiveCaptureError('failed', `dumpcap's output is not pcapng at byte ${e.offset}: ${e.message}`));
          child.kill('SIGKILL');
        }
        started();
      });
      child.stderr!.on('data', (chunk: Buffer) => {
        for (const r of sync.push(chunk)) {
          if (r.type === 'F') started();
          else if (r.type === 'P') st.captured = (st.captured ?? 0) + (Number(r.text) || 0);
          else if (r.type === 'D') {
            // "N:iface" per interface (older dumpcaps: only N)
            const n = Number(r.text.split(':')[0]);
            if (Number.isFinite(n)) st.kernelDropped = (st.kernelDropped ?? 0) + n;
          } else if (r.type === 'E' || r.type === 'B') fail(dumpcapError(r, o, () => deviceNames(exe)));
        }
        if (stderrText.length < 4096) stderrText += chunk.toString('latin1');
      });
      this.ended = new Promise<void>((done) => {
        let exited = false;
        let drained = false;
        const finish = () => {
          if (!exited || !drained) return;
          try {
            reader.end();
          } catch {
            // a record cut by a kill: everything before it was delivered
          }
          st.dropped = st.kernelDropped ?? 0;
          this.child = null;
          done();
        };
        child.stdout!.on('end', () => {
          drained = true;
          finish();
        });
        child.on('exit', (code, signal) => {
          exited = true;
          if (!this.stopping) {
            const why = failure ?? (code === 0 ? null : new LiveCaptureError('failed', `dumpcap stopped (${signal ? `killed by ${signal}` : `exit code ${code}`})${stderrText.trim() && !/^[A-Z]\0/.test(stderrText) ? `: ${stderrText.trim().slice(0, 200)}` : ''}`));
            if (!capturing) fail(why ?? new LiveCaptureError('failed', 'dumpcap ended before capturing'));
            else this.onEnd?.(why);
          }
          finish();
        });
      });
    });
  }

  /** Stops dumpcap and resolves once every packet it captured has been delivered. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.stopping = true;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await this.ended;
    clearTimeout(timer);
  }

  get running(): boolean {
    return this.child !== null && !this.stopping;
  }

  /** dumpcap's process id while it runs (for measuring it). */
  get pid(): number | undefined {
    return this.child?.pid;
  }
}

function deviceNames(exe: string): string[] {
  try {
    return dumpcapDevices(exe, (e, args) => execFileSync(e, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 })).map((d) => d.name);
  } catch {
    return [];
  }
}

/** Capture devices as dumpcap lists them (`-D -M`), with their state from the kernel. */
export function dumpcapDevices(exe: string, run: (exe: string, args: string[]) => string): DeviceInfo[] {
  const out = run(exe, ['-D', '-M']);
  const devices: DeviceInfo[] = [];
  for (const line of out.split('\n')) {
    // "N. name\tvendor description\tfriendly name\tinterface type\taddresses\tloopback|network\t…"
    const m = /^\d+\.\s+([^\t]+)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)/.exec(line);
    if (!m) continue;
    const [, name, vendor, friendly, , addrs, kind] = m;
    const state = linkState(name);
    devices.push({
      name,
      description: friendly || vendor,
      addresses: addrs ? addrs.split(',').filter(Boolean) : [],
      loopback: kind === 'loopback',
      up: state.up,
      running: state.running,
    });
  }
  return devices;
}
