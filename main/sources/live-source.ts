/**
 * Live capture through the `cap` package (libpcap).
 *
 * cap reuses ONE buffer for every packet and gives neither a timestamp nor the original length:
 * each packet is handed to the sink synchronously inside cap's event (the sink must finish with
 * it before returning, as with file sources) and stamped with its arrival time from a monotonic
 * clock anchored to wall time (performance.timeOrigin + performance.now(): microseconds, never
 * going backwards).
 *
 * What cap 0.2.1 does not offer, and what we do instead (docs/decisions.md): it always opens in
 * promiscuous mode with a 65,535-byte snaplen (our `snaplen` option truncates after capture) and
 * has no pcap_stats, so "dropped" counts only packets our buffer could not hold; received and
 * processed are counted here.
 */
import type { CapturedPacket, PacketSink } from '../engine/formats';
import { newCapturedPacket } from '../engine/formats';
import { linkState } from './link-state';
import { liveCaptureStatus } from './live-status';

export interface DeviceInfo {
  name: string;
  description: string;
  addresses: string[];
  loopback: boolean;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** Up with a carrier: packets can flow (unknown for cap's list: then as `up`). */
  running?: boolean;
}

/** How a live capture is taken: dumpcap as a helper holding the rights, or libpcap in this process. */
export type CaptureVia = 'dumpcap' | 'libpcap';

export interface LiveOptions {
  device: string;
  /** BPF filter (pcap-filter syntax); empty captures everything. */
  filter?: string;
  /** Bytes kept of each packet, applied by the kernel (dumpcap: default 262,144 as tcpdump; cap: 65,535 at most). */
  snaplen?: number;
  /** libpcap's kernel buffer, bytes (default 16 MiB). */
  bufferSize?: number;
  /** Promiscuous mode (default on, as dumpcap and tcpdump); cap always opens promiscuous. */
  promiscuous?: boolean;
}

export interface LiveStats {
  received: number;
  processed: number;
  /** Packets lost: the kernel's count (pcap_stats ps_drop) where known, else those cut by cap's buffer. */
  dropped: number;
  bytes: number;
  /** The kernel's drop count (dumpcap reports it when the capture stops); null when not known. */
  kernelDropped?: number | null;
  /** Packets dumpcap reports captured so far (ahead of `received` by what is still in the pipe). */
  captured?: number;
}

/** A running live capture, whichever way it is taken. */
export interface LiveSource {
  readonly via: CaptureVia;
  readonly stats: LiveStats;
  /** LINKTYPE_* of the device, known once started. */
  linkType: number;
  /** Starts; resolves once packets are being captured, rejects with a LiveCaptureError. */
  start(sink: PacketSink): Promise<void>;
  /** Stops; resolves once every packet captured has been delivered. */
  stop(): Promise<void>;
  readonly running: boolean;
  /** Set by the consumer: the capture ended without stop() (the helper failed or was killed). */
  onEnd: ((error: LiveCaptureError | null) => void) | null;
}

export type LiveErrorKind = 'unavailable' | 'permission' | 'no-device' | 'bad-filter' | 'failed';

export class LiveCaptureError extends Error {
  override readonly name = 'LiveCaptureError';
  constructor(
    readonly kind: LiveErrorKind,
    message: string,
    readonly fix = '',
  ) {
    super(fix ? `${message}\n  Fix: ${fix}` : message);
  }
}

interface CapInstance {
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  close(): void;
  on(ev: 'packet', fn: (nbytes: number, trunc: boolean) => void): void;
  removeAllListeners(ev?: string): void;
  setMinBytes?: (n: number) => void;
}
interface CapModule {
  Cap: {
    new (): CapInstance;
    deviceList(): { name: string; description?: string; addresses: { addr: string }[]; flags?: string }[];
    findDevice(ip?: string): string | undefined;
  };
}

function loadCap(): CapModule {
  const status = liveCaptureStatus();
  if (!status.available) throw new LiveCaptureError('unavailable', status.reason, status.fix);
  return require('cap') as CapModule;
}

/** cap's link type names → LINKTYPE_* numbers. */
function linkTypeOf(name: string): number {
  switch (name) {
    case 'NULL':
      return 0;
    case 'ETHERNET':
      return 1;
    case 'IEEE802_11_RADIO':
      return 127;
    case 'LINKTYPE_LINUX_SLL':
      return 113;
    case 'RAW':
      return 101;
    default: {
      const m = /Unknown linktype (\d+)/.exec(name);
      return m ? Number(m[1]) : -1;
    }
  }
}

const PERMISSION_FIX =
  process.platform === 'win32'
    ? 'install Npcap and run Weft as an administrator'
    : "install dumpcap (sudo apt install wireshark-common, answer yes to letting non-root users capture, then sudo usermod -aG wireshark $USER and log in again): Weft captures through it and needs no rights itself; or run as root";

export function listDevices(): DeviceInfo[] {
  const { Cap } = loadCap();
  return Cap.deviceList().map((d) => ({
    name: d.name,
    description: d.description ?? '',
    addresses: d.addresses.map((a) => a.addr).filter(Boolean),
    loopback: (d.flags ?? '').includes('LOOPBACK') || d.name === 'lo' || d.name.startsWith('lo'),
    ...linkState(d.name),
  }));
}

export class LiveCapture implements LiveSource {
  readonly via = 'libpcap' as const;
  readonly stats: LiveStats = { received: 0, processed: 0, dropped: 0, bytes: 0, kernelDropped: null };
  linkType = -1;
  onEnd: ((error: LiveCaptureError | null) => void) | null = null;
  private cap: CapInstance | null = null;
  private readonly buffer: Buffer;
  private readonly bytes: Uint8Array;
  private readonly pkt: CapturedPacket = newCapturedPacket();
  private readonly snaplen: number;

  constructor(private readonly opts: LiveOptions) {
    this.snaplen = Math.max(1, Math.min(opts.snaplen ?? 65535, 262144));
    this.buffer = Buffer.alloc(262144);
    // packets are views of this: a plain Uint8Array, so a consumer's slice() copies (Buffer's is a view)
    this.bytes = new Uint8Array(this.buffer.buffer, this.buffer.byteOffset, this.buffer.length);
  }

  /** Opens the device and delivers packets to `sink` until stop(). Rejects with LiveCaptureError. */
  async start(sink: PacketSink): Promise<void> {
    this.open(sink);
  }

  /** As start(), at once (throws LiveCaptureError). */
  open(sink: PacketSink): void {
    const { Cap } = loadCap();
    const devs = Cap.deviceList();
    if (!devs.some((d) => d.name === this.opts.device))
      throw new LiveCaptureError('no-device', `no capture device '${this.opts.device}'`, `pick one of: ${devs.map((d) => d.name).join(', ')} (weft devices)`);
    const c = new Cap();
    let lt: string;
    try {
      lt = c.open(this.opts.device, this.opts.filter ?? '', this.opts.bufferSize ?? 16 * 1024 * 1024, this.buffer);
    } catch (e) {
      // no close() here: cap crashes when a handle that failed to open is closed (nor collected)
      CLOSED.push(c);
      throw classify(e as Error, this.opts, () => opensWithoutFilter(Cap, this.opts, this.buffer));
    }
    c.setMinBytes?.(0);
    this.linkType = linkTypeOf(lt);
    this.cap = c;
    const p = this.pkt;
    const origin = performance.timeOrigin;
    let frame = 0;
    c.on('packet', (nbytes: number, trunc: boolean) => {
      const st = this.stats;
      st.received++;
      if (trunc) st.dropped++;
      const ms = origin + performance.now();
      const sec = Math.floor(ms / 1000);
      p.frame = ++frame;
      p.tsSec = sec;
      p.tsNsec = Math.round((ms - sec * 1000) * 1e6);
      p.ifIndex = 0;
      p.linkType = this.linkType;
      p.buf = this.bytes;
      p.offset = 0;
      p.capLen = Math.min(nbytes, this.snaplen);
      p.origLen = nbytes;
      p.fileOffset = -1;
      st.bytes += nbytes;
      sink.packet(p);
      st.processed++;
    });
  }

  async stop(): Promise<void> {
    this.close();
  }

  /** As stop(), at once: cap delivers packets synchronously, so none is left to wait for. */
  close(): void {
    if (!this.cap) return;
    this.cap.removeAllListeners('packet');
    this.cap.close();
    // A closed cap handle must never be garbage collected: its native destructor, run by a later
    // GC, crashed the engine process with SIGSEGV (seen seconds after a live capture stopped, at
    // random: whenever V8 collected it). Each one kept costs a few hundred bytes.
    CLOSED.push(this.cap);
    this.cap = null;
  }

  get running(): boolean {
    return this.cap !== null;
  }
}

/** Closed cap handles, kept from the garbage collector (see LiveCapture.stop). */
const CLOSED: unknown[] = [];

/** Checks a BPF filter by opening the device with it; returns libpcap's message, or null. */
export function checkFilter(device: string, filter: string): string | null {
  const lc = new LiveCapture({ device, filter });
  try {
    lc.open({ packet() {} });
    return null;
  } catch (e) {
    if (e instanceof LiveCaptureError && e.kind === 'bad-filter') return e.message;
    throw e;
  } finally {
    lc.close();
  }
}

/** libpcap's filter messages vary ("syntax error", "unknown port …"): a filter is at fault when
 * the same device opens without it. */
function opensWithoutFilter(Cap: CapModule['Cap'], o: LiveOptions, buffer: Buffer): boolean {
  if (!o.filter) return false;
  const c = new Cap();
  try {
    c.open(o.device, '', 65536, buffer);
  } catch {
    CLOSED.push(c);
    return false;
  }
  c.close();
  CLOSED.push(c);
  return true;
}

function classify(e: Error, o: LiveOptions, filterAtFault: () => boolean): LiveCaptureError {
  const msg = e.message;
  if (/permission|not permitted|EPERM|socket:/i.test(msg)) return new LiveCaptureError('permission', `cannot capture on ${o.device}: ${msg}`, PERMISSION_FIX);
  if (/no such device|doesn't exist/i.test(msg)) return new LiveCaptureError('no-device', `no capture device '${o.device}': ${msg}`);
  if (filterAtFault()) return new LiveCaptureError('bad-filter', `bad capture filter '${o.filter}': ${msg}`);
  return new LiveCaptureError('failed', `cannot capture on ${o.device}: ${msg}`);
}
