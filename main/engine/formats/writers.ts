/**
 * pcap and pcapng writers. Both produce Uint8Array pieces for a caller-supplied `write` function
 * (a file stream, an array in tests); they never hold more than one record. With `scratch` the
 * write function promises to copy each piece before it returns (a buffered file), and packet
 * records are built in one reused buffer: nothing is allocated per packet.
 *
 * Both write little-endian files. The pcap writer writes microsecond or nanosecond files
 * (magic a1b2c3d4 / a1b23c4d); the pcapng writer writes one section with one IDB per interface
 * (if_tsresol = 9, nanoseconds) and EPBs, so times round-trip exactly.
 */
import { concatBytes } from '../util/bytes';

export type WriteFn = (chunk: Uint8Array) => void;

export interface PcapWriterOptions {
  linkType: number;
  snapLen?: number;
  /** Nanosecond timestamps (magic a1b23c4d); default microseconds. */
  nanoseconds?: boolean;
  /** `write` copies each piece before it returns: records are built in one reused buffer. */
  scratch?: boolean;
}

/** A record's memory: a new array each time, or (scratch) one grown and reused. */
class Records {
  private pair: [Uint8Array, DataView] | null = null;
  constructor(private readonly reuse: boolean) {}
  /** At least `n` bytes to fill from the start, and a view over them, valid until the next call. */
  take(n: number): [Uint8Array, DataView] {
    if (!this.reuse) {
      const b = new Uint8Array(n);
      return [b, new DataView(b.buffer)];
    }
    if (this.pair === null || this.pair[0].length < n) {
      const b = new Uint8Array(Math.max(n, 2 * (this.pair?.[0].length ?? 0), 4096));
      this.pair = [b, new DataView(b.buffer)];
    }
    return this.pair;
  }
}

/** The writers' nanoWords answer (one reused pair: no allocation per packet). */
const NANO_WORDS = new Float64Array(2);

/**
 * `sec` seconds and `nsec` nanoseconds as a 64-bit count of nanoseconds, its high and low 32 bits
 * into out[0] and out[1], exactly and without BigInt (two BigInts per packet were most of what
 * writing a pcapng slice allocated): sec·10⁹ is split at 16 bits of sec so every partial sum
 * stays below 2⁵³.
 */
export function nanoWords(sec: number, nsec: number, out: { [i: number]: number }): void {
  const sh = Math.floor(sec / 65536);
  const sl = sec - sh * 65536;
  const b = sh * 1e9; // the part of sec·10⁹ above 16 bits, shifted down by 16
  const bh = Math.floor(b / 65536);
  const t = (b - bh * 65536) * 65536 + sl * 1e9 + nsec; // < 2⁴⁸
  const carry = Math.floor(t / 4294967296);
  out[0] = bh + carry;
  out[1] = t - carry * 4294967296;
}

export class PcapWriter {
  private readonly nsec: boolean;
  private readonly snapLen: number;
  private readonly records: Records;

  constructor(
    private readonly write: WriteFn,
    opts: PcapWriterOptions,
  ) {
    this.nsec = opts.nanoseconds ?? false;
    this.snapLen = opts.snapLen ?? 262144;
    this.records = new Records(opts.scratch ?? false);
    const h = new Uint8Array(24);
    const v = new DataView(h.buffer);
    v.setUint32(0, this.nsec ? 0xa1b23c4d : 0xa1b2c3d4, true);
    v.setUint16(4, 2, true);
    v.setUint16(6, 4, true);
    v.setUint32(16, this.snapLen, true);
    v.setUint32(20, opts.linkType, true);
    write(h);
  }

  /** Writes one record; `data` is copied (truncated to the snaplen). */
  packet(tsSec: number, tsNsec: number, data: Uint8Array, origLen = data.length): void {
    const cap = Math.min(data.length, this.snapLen);
    const [rec, v] = this.records.take(16 + cap);
    v.setUint32(0, tsSec >>> 0, true);
    v.setUint32(4, this.nsec ? tsNsec : Math.floor(tsNsec / 1000), true);
    v.setUint32(8, cap, true);
    v.setUint32(12, Math.max(origLen, cap), true);
    rec.set(data.subarray(0, cap), 16);
    this.write(rec.length === 16 + cap ? rec : rec.subarray(0, 16 + cap));
  }
}

export interface PcapngInterface {
  linkType: number;
  snapLen?: number;
  name?: string;
}

const enc = new TextEncoder();

export class PcapngWriter {
  private interfaces = 0;
  private readonly records: Records;

  constructor(
    private readonly write: WriteFn,
    application = 'Weft',
    options: { scratch?: boolean } = {},
  ) {
    this.records = new Records(options.scratch ?? false);
    const opts = [option(4, enc.encode(application))];
    const body = concatBytes([u32(0x1a2b3c4d), u16(1), u16(0), u32(0xffffffff), u32(0xffffffff), ...opts, endOfOptions()]);
    write(block(0x0a0d0d0a, body));
  }

  /** Adds an interface description; returns its id for {@link packet}. */
  addInterface(i: PcapngInterface): number {
    const opts: Uint8Array[] = [option(9, Uint8Array.of(9))];
    if (i.name) opts.push(option(2, enc.encode(i.name)));
    const body = concatBytes([u16(i.linkType), u16(0), u32(i.snapLen ?? 0), ...opts, endOfOptions()]);
    this.write(block(1, body));
    return this.interfaces++;
  }

  /** Writes one EPB; `data` is copied. Timestamps are written in nanoseconds. */
  packet(ifId: number, tsSec: number, tsNsec: number, data: Uint8Array, origLen = data.length): void {
    if (ifId < 0 || ifId >= this.interfaces) throw new RangeError(`no interface ${ifId}`);
    const padded = (data.length + 3) & ~3;
    const total = 32 + padded;
    const [b, v] = this.records.take(total);
    v.setUint32(0, 6, true);
    v.setUint32(4, total, true);
    v.setUint32(8, ifId, true);
    nanoWords(tsSec, tsNsec, NANO_WORDS);
    v.setUint32(12, NANO_WORDS[0], true);
    v.setUint32(16, NANO_WORDS[1], true);
    v.setUint32(20, data.length, true);
    v.setUint32(24, Math.max(origLen, data.length), true);
    b.set(data, 28);
    for (let i = 28 + data.length; i < 28 + padded; i++) b[i] = 0; // a reused buffer holds the last record's bytes
    v.setUint32(total - 4, total, true);
    this.write(b.length === total ? b : b.subarray(0, total));
  }

  /**
   * Writes an Interface Statistics Block for `ifId` (at the end of a capture, as dumpcap does):
   * the time, the capture's start and end, packets received by the capture and those the kernel
   * dropped (isb_ifdrop for the interface, isb_osdrop for the capture's buffer), when known.
   */
  statistics(ifId: number, s: PcapngStatistics): void {
    if (ifId < 0 || ifId >= this.interfaces) throw new RangeError(`no interface ${ifId}`);
    const ts = (sec: number, nsec: number) => {
      nanoWords(sec, nsec, NANO_WORDS);
      return concatBytes([u32(NANO_WORDS[0]), u32(NANO_WORDS[1])]);
    };
    const u64 = (n: number) => {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
      return b;
    };
    const opts: Uint8Array[] = [];
    if (s.comment) opts.push(option(1, enc.encode(s.comment)));
    if (s.start) opts.push(option(2, ts(s.start.sec, s.start.nsec)));
    opts.push(option(3, ts(s.end.sec, s.end.nsec)));
    if (s.received !== undefined) opts.push(option(4, u64(s.received)));
    if (s.interfaceDropped !== undefined) opts.push(option(5, u64(s.interfaceDropped)));
    if (s.osDropped !== undefined) opts.push(option(7, u64(s.osDropped)));
    this.write(block(5, concatBytes([u32(ifId), ts(s.end.sec, s.end.nsec), ...opts, endOfOptions()])));
  }
}

export interface PcapngStatistics {
  comment?: string;
  start?: { sec: number; nsec: number };
  end: { sec: number; nsec: number };
  /** isb_ifrecv: packets received. */
  received?: number;
  /** isb_ifdrop: packets the interface dropped (libpcap's ps_ifdrop / the kernel's ps_drop). */
  interfaceDropped?: number;
  /** isb_osdrop: packets the operating system dropped for lack of buffer. */
  osDropped?: number;
}

function u16(n: number): Uint8Array {
  return Uint8Array.of(n & 0xff, (n >>> 8) & 0xff);
}
function u32(n: number): Uint8Array {
  return Uint8Array.of(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
}
function option(code: number, value: Uint8Array): Uint8Array {
  const padded = new Uint8Array((value.length + 3) & ~3);
  padded.set(value);
  return concatBytes([u16(code), u16(value.length), padded]);
}
function endOfOptions(): Uint8Array {
  return new Uint8Array(4);
}
function block(type: number, body: Uint8Array): Uint8Array {
  const total = body.length + 12;
  return concatBytes([u32(type), u32(total), body, u32(total)]);
}
