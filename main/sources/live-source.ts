/**
 * Live capture in this process, through Weft's own libpcap binding (native/weft-pcap, Node-API):
 * libpcap's packet header is kept (the kernel's time stamp, in nanoseconds where libpcap offers
 * them; captured and original length), the kernel applies the snaplen (262,144 unless set),
 * promiscuous mode is a switch, and pcap_stats gives the kernel's drop counters while capturing.
 * This process needs the capture rights itself (root, or a container that has them); without
 * them, capture through dumpcap (dumpcap-source.ts) — live.ts chooses.
 *
 * Packets arrive in batches (one JavaScript call per libpcap dispatch, records copied into one
 * reused buffer) and are handed to the sink synchronously, as views of that buffer: the sink must
 * finish with a packet before it returns (copies of it are plain Uint8Array slices).
 */
import type { CapturedPacket, PacketSink } from '../engine/formats';
import { newCapturedPacket } from '../engine/formats';
import { liveCaptureStatus, loadPcapBinding, type PcapBinding } from './live-status';

export interface DeviceInfo {
  name: string;
  description: string;
  addresses: string[];
  loopback: boolean;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** Up with a carrier: packets can flow. */
  running?: boolean;
}

/**
 * The kernel's capture buffer, either way: 32 MiB (tcpdump's and dumpcap's own default is 2) —
 * a burst on a fast link or loopback (10 MB in a few milliseconds) must fit while the reader is
 * busy; a loaded machine once dropped 6 packets of one through dumpcap with 16.
 */
export const LIVE_BUFFER_BYTES = 32 << 20;

/** The snaplen asked for, as tcpdump and dumpcap take it: 262,144 unless set, at most that. */
export function snaplenOf(o: LiveOptions): number {
  return Math.max(1, Math.min(o.snaplen ?? 262144, 262144));
}

/** How a live capture is taken: dumpcap as a helper holding the rights, or libpcap in this process. */
export type CaptureVia = 'dumpcap' | 'libpcap';

export interface LiveOptions {
  device: string;
  /** BPF filter (pcap-filter syntax); empty captures everything. */
  filter?: string;
  /** Bytes kept of each packet, applied by the kernel (default 262,144, as tcpdump and dumpcap). */
  snaplen?: number;
  /** libpcap's kernel buffer, bytes (default LIVE_BUFFER_BYTES). */
  bufferSize?: number;
  /** Promiscuous mode (default on, as dumpcap and tcpdump). */
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

function loadBinding(): PcapBinding {
  const status = liveCaptureStatus();
  if (!status.available) throw new LiveCaptureError('unavailable', status.reason, status.fix);
  return loadPcapBinding();
}

const PERMISSION_FIX =
  process.platform === 'win32'
    ? 'install Npcap and run Weft as an administrator'
    : "install dumpcap (sudo apt install wireshark-common, answer yes to letting non-root users capture, then sudo usermod -aG wireshark $USER and log in again): Weft captures through it and needs no rights itself; or run as root";

/** pcap_findalldevs's flags. */
const IF_LOOPBACK = 0x1;
const IF_UP = 0x2;
const IF_RUNNING = 0x4;

export function listDevices(): DeviceInfo[] {
  return loadBinding()
    .devices()
    .map((d) => ({
      name: d.name,
      description: d.description,
      addresses: d.addresses,
      loopback: (d.flags & IF_LOOPBACK) !== 0,
      up: (d.flags & IF_UP) !== 0,
      running: (d.flags & IF_RUNNING) !== 0,
    }));
}

/** Bytes of the batch buffer libpcap's packets are copied into (several snaplen-sized packets). */
const BATCH_BYTES = 4 << 20;
/** Header of a record in the batch: seconds (low, high), nanoseconds, caplen, len. */
const RECORD_HEADER = 20;

export class LiveCapture implements LiveSource {
  readonly via = 'libpcap' as const;
  readonly stats: LiveStats = { received: 0, processed: 0, dropped: 0, bytes: 0, kernelDropped: 0 };
  linkType = -1;
  onEnd: ((error: LiveCaptureError | null) => void) | null = null;
  /** 'nano' or 'micro': what libpcap delivers on this device. */
  precision: 'nano' | 'micro' = 'micro';
  private handle: unknown = null;
  private binding: PcapBinding | null = null;
  private readonly pkt: CapturedPacket = newCapturedPacket();
  private statsTimer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly opts: LiveOptions) {}

  /** Opens the device and delivers packets to `sink` until stop(). Rejects with LiveCaptureError. */
  async start(sink: PacketSink): Promise<void> {
    this.open(sink);
  }

  /** As start(), at once (throws LiveCaptureError). */
  open(sink: PacketSink): void {
    const b = loadBinding();
    const o = this.opts;
    let h: unknown;
    try {
      h = b.open({ device: o.device, filter: o.filter ?? '', snaplen: snaplenOf(o), promiscuous: o.promiscuous !== false, bufferSize: o.bufferSize ?? LIVE_BUFFER_BYTES, timeoutMs: 100 });
    } catch (e) {
      throw classify(e as Error & { code?: string }, o, () => b.devices().map((d) => d.name));
    }
    this.binding = b;
    this.handle = h;
    this.linkType = b.linkType(h);
    this.precision = b.precision(h);
    const batch = new ArrayBuffer(BATCH_BYTES);
    // packets are views of this: a plain Uint8Array, so a consumer's slice() copies (Buffer's is a view)
    const bytes = new Uint8Array(batch);
    const words = new Uint32Array(batch);
    const p = this.pkt;
    const st = this.stats;
    let frame = 0;
    b.start(h, batch, (records: number) => {
      let at = 0;
      for (let i = 0; i < records; i++) {
        const w = at >>> 2;
        const capLen = words[w + 3];
        p.frame = ++frame;
        p.tsSec = words[w] + words[w + 1] * 2 ** 32;
        p.tsNsec = words[w + 2];
        p.ifIndex = 0;
        p.linkType = this.linkType;
        p.buf = bytes;
        p.offset = at + RECORD_HEADER;
        p.capLen = capLen;
        p.origLen = words[w + 4];
        p.fileOffset = -1;
        st.received++;
        st.bytes += p.origLen;
        sink.packet(p);
        st.processed++;
        at += RECORD_HEADER + ((capLen + 3) & ~3);
      }
    });
    // the kernel's counters, while capturing (pcap_stats is one getsockopt)
    this.statsTimer = setInterval(() => this.readKernelStats(), 250);
    this.statsTimer.unref?.();
  }

  /** Reads the kernel's drop counters now. */
  readKernelStats(): void {
    if (!this.binding || this.handle === null) return;
    try {
      const [, drop, ifdrop] = this.binding.stats(this.handle);
      this.stats.kernelDropped = drop + ifdrop;
      this.stats.dropped = drop + ifdrop;
    } catch {
      // closed meanwhile
    }
  }

  async stop(): Promise<void> {
    this.close();
  }

  /** As stop(), at once: packets are delivered as they are read, so none is left to wait for. */
  close(): void {
    if (!this.binding || this.handle === null) return;
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.statsTimer = null;
    this.readKernelStats();
    this.binding.close(this.handle);
    this.handle = null;
  }

  get running(): boolean {
    return this.handle !== null;
  }
}

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

/** The binding's error as a LiveCaptureError: its `code` says which. */
function classify(e: Error & { code?: string }, o: LiveOptions, devices: () => string[]): LiveCaptureError {
  const msg = e.message;
  switch (e.code) {
    case 'permission':
      return new LiveCaptureError('permission', `cannot capture on ${o.device}: ${msg}`, PERMISSION_FIX);
    case 'no-device':
      return new LiveCaptureError('no-device', `no capture device '${o.device}'`, `pick one of: ${devices().join(', ')} (weft devices)`);
    case 'bad-filter':
      return new LiveCaptureError('bad-filter', `bad capture filter '${o.filter}': ${msg}`);
    case 'down':
      return new LiveCaptureError('failed', `cannot capture on ${o.device}: it is down`, `bring it up: sudo ip link set ${o.device} up`);
    default:
      return new LiveCaptureError('failed', `cannot capture on ${o.device}: ${msg}`);
  }
}
