/**
 * pcapng reader (push-based, zero-copy; see chunked.ts).
 *
 *   block:  type(4) total_length(4) body … total_length(4)      (lengths include all 12 bytes)
 *   SHB 0x0A0D0D0A: byte-order magic 0x1A2B3C4D gives the section's byte order; version 1.x
 *   IDB 1:  link type(2) reserved(2) snaplen(4) options (if_name 2, if_tsresol 9, if_tsoffset 14)
 *   EPB 6:  interface(4) ts_high(4) ts_low(4) caplen(4) origlen(4) data, padded to 4, options
 *   SPB 3:  origlen(4) data (interface 0 of the section, caplen = min(origlen, snaplen, room))
 *   PB  2:  interface(2) drops(2) ts_high(4) ts_low(4) caplen(4) len(4) data  (obsolete)
 *   ISB 5, NRB 4, DSB 10, custom 0xBAD / 0x40000BAD and unknown types: skipped and counted.
 *
 * A file may hold several sections, each with its own byte order and interfaces. Interfaces get
 * a global index across sections (CapturedPacket.ifIndex) so a consumer can tell them apart.
 * SPBs carry no timestamp: they take the previous packet's time (documented in
 * docs/decisions.md) so capture-time idle logic does not jump back to 1970.
 */
import { u16in, u32in } from '../util/bytes';
import { ChunkedRecordReader } from './chunked';
import { CaptureFormatError } from './errors';
import { MAX_BLOCK_LENGTH } from './limits';
import { resolutionFromOption, splitTimestamp, type SecNsec, type TsResolution } from './timestamp';
import { newCapturedPacket, type InterfaceInfo, type PacketSink, type ReaderAnomalies } from './types';

const PCAPNG_SHB = 0x0a0d0d0a;
const BOM = 0x1a2b3c4d;
const BOM_SWAPPED = 0x4d3c2b1a;

export function isPcapngMagic(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x0a && b[1] === 0x0d && b[2] === 0x0d && b[3] === 0x0a;
}

interface Iface {
  info: InterfaceInfo;
  res: TsResolution;
  offsetSec: number;
}

export class PcapngReader extends ChunkedRecordReader {
  readonly format = 'pcapng' as const;
  littleEndian = true;
  packets = 0;
  sections = 0;
  readonly interfaces: InterfaceInfo[] = [];
  readonly anomalies: ReaderAnomalies = { capLenOverOrigLen: 0, badTimestampFraction: 0, skippedBlocks: 0 };
  private section: Iface[] = [];
  private readonly pkt = newCapturedPacket();
  private readonly ts: SecNsec = { sec: 0, nsec: 0 };
  private lastSec = 0;
  private lastNsec = 0;

  constructor(private readonly sink: PacketSink) {
    super();
  }

  private u32(b: Uint8Array, o: number): number {
    return u32in(this.littleEndian, b, o);
  }

  private u16(b: Uint8Array, o: number): number {
    return u16in(this.littleEndian, b, o);
  }

  private damage(kind: 'bad-record' | 'bad-interface' | 'not-a-capture' | 'unsupported-version', msg: string): never {
    this.fail(new CaptureFormatError(kind, this.consumed, msg, '', this.packets));
  }

  protected frameLength(b: Uint8Array, off: number, avail: number): number {
    if (avail < 8) return -8;
    const isShb = b[off] === 0x0a && b[off + 1] === 0x0d && b[off + 2] === 0x0d && b[off + 3] === 0x0a;
    if (isShb) {
      if (avail < 12) return -12;
      const bom = ((b[off + 8] << 24) | (b[off + 9] << 16) | (b[off + 10] << 8) | b[off + 11]) >>> 0;
      if (bom === BOM) this.littleEndian = false;
      else if (bom === BOM_SWAPPED) this.littleEndian = true;
      else this.damage('not-a-capture', `section header has a bad byte-order magic 0x${bom.toString(16).padStart(8, '0')}`);
    } else if (this.sections === 0) {
      this.damage('not-a-capture', 'pcapng file does not start with a section header block');
    }
    const total = this.u32(b, off + 4);
    if (total < 12 || total % 4 !== 0)
      this.damage('bad-record', `block of type 0x${this.u32(b, off).toString(16)} has an invalid total length ${total}`);
    if (total > MAX_BLOCK_LENGTH)
      this.damage('bad-record', `block of type 0x${this.u32(b, off).toString(16)} claims ${total} bytes (limit ${MAX_BLOCK_LENGTH})`);
    return total;
  }

  protected handle(b: Uint8Array, off: number, len: number): void {
    const type = this.u32(b, off);
    const trailer = this.u32(b, off + len - 4);
    if (trailer !== len)
      this.damage('bad-record', `block total lengths disagree (leading ${len}, trailing ${trailer})`);
    switch (type) {
      case PCAPNG_SHB:
        return this.sectionHeader(b, off, len);
      case 1:
        return this.interfaceDescription(b, off, len);
      case 6:
        return this.enhancedPacket(b, off, len);
      case 3:
        return this.simplePacket(b, off, len);
      case 2:
        return this.obsoletePacket(b, off, len);
      default:
        this.anomalies.skippedBlocks++;
    }
  }

  private sectionHeader(b: Uint8Array, off: number, len: number): void {
    if (len < 28) this.damage('bad-record', `section header block is too short (${len} bytes)`);
    const major = this.u16(b, off + 12);
    const minor = this.u16(b, off + 14);
    if (major !== 1) this.damage('unsupported-version', `pcapng section version ${major}.${minor} is not supported`);
    this.sections++;
    this.section = [];
  }

  private interfaceDescription(b: Uint8Array, off: number, len: number): void {
    if (len < 20) this.damage('bad-record', `interface description block is too short (${len} bytes)`);
    const linkType = this.u16(b, off + 8);
    const snapLen = this.u32(b, off + 12);
    let tsresol: number | undefined;
    let offsetSec = 0;
    let name: string | undefined;
    let description: string | undefined;
    const end = off + len - 4;
    let o = off + 16;
    while (o + 4 <= end) {
      const code = this.u16(b, o);
      const olen = this.u16(b, o + 2);
      const v = o + 4;
      if (code === 0 || v + olen > end) break;
      if (code === 9 && olen >= 1) tsresol = b[v];
      else if (code === 14 && olen >= 8) {
        // if_tsoffset: signed 64-bit seconds; any sane value fits a double exactly.
        const hi = this.littleEndian ? this.u32(b, v + 4) | 0 : this.u32(b, v) | 0;
        const lo = this.littleEndian ? this.u32(b, v) : this.u32(b, v + 4);
        offsetSec = hi * 4294967296 + lo;
      } else if (code === 2) name = utf8(b, v, olen);
      else if (code === 3) description = utf8(b, v, olen);
      o = v + ((olen + 3) & ~3);
    }
    const res = resolutionFromOption(tsresol);
    const info: InterfaceInfo = {
      index: this.interfaces.length,
      linkType,
      snapLen,
      name,
      description,
      tsUnitsPerSecond: res.unitsPerSecond,
    };
    this.interfaces.push(info);
    this.section.push({ info, res, offsetSec });
    this.sink.interface?.(info);
  }

  private iface(id: number): Iface {
    const i = this.section[id];
    if (i === undefined)
      this.damage('bad-interface', `packet refers to interface ${id}, but the section describes ${this.section.length}`);
    return i;
  }

  private emit(i: Iface, b: Uint8Array, dataOff: number, capLen: number, origLen: number, sec: number, nsec: number): void {
    if (origLen < capLen) {
      this.anomalies.capLenOverOrigLen++;
      origLen = capLen;
    }
    const p = this.pkt;
    p.frame = ++this.packets;
    p.tsSec = sec;
    p.tsNsec = nsec;
    this.lastSec = sec;
    this.lastNsec = nsec;
    p.ifIndex = i.info.index;
    p.linkType = i.info.linkType;
    p.buf = b;
    p.offset = dataOff;
    p.capLen = capLen;
    p.origLen = origLen;
    p.fileOffset = this.consumed;
    this.sink.packet(p);
  }

  private enhancedPacket(b: Uint8Array, off: number, len: number): void {
    if (len < 32) this.damage('bad-record', `enhanced packet block is too short (${len} bytes)`);
    const i = this.iface(this.u32(b, off + 8));
    const capLen = this.u32(b, off + 20);
    if (capLen > len - 32)
      this.damage('bad-record', `enhanced packet block of ${len} bytes is too small for ${capLen} bytes of packet data`);
    splitTimestamp(this.u32(b, off + 12), this.u32(b, off + 16), i.res, i.offsetSec, this.ts);
    this.emit(i, b, off + 28, capLen, this.u32(b, off + 24), this.ts.sec, this.ts.nsec);
  }

  private obsoletePacket(b: Uint8Array, off: number, len: number): void {
    if (len < 32) this.damage('bad-record', `packet block is too short (${len} bytes)`);
    const i = this.iface(this.u16(b, off + 8));
    const capLen = this.u32(b, off + 20);
    if (capLen > len - 32)
      this.damage('bad-record', `packet block of ${len} bytes is too small for ${capLen} bytes of packet data`);
    splitTimestamp(this.u32(b, off + 12), this.u32(b, off + 16), i.res, i.offsetSec, this.ts);
    this.emit(i, b, off + 28, capLen, this.u32(b, off + 24), this.ts.sec, this.ts.nsec);
  }

  private simplePacket(b: Uint8Array, off: number, len: number): void {
    if (len < 16) this.damage('bad-record', `simple packet block is too short (${len} bytes)`);
    const i = this.iface(0);
    const origLen = this.u32(b, off + 8);
    let capLen = Math.min(origLen, len - 16);
    if (i.info.snapLen > 0) capLen = Math.min(capLen, i.info.snapLen);
    this.emit(i, b, off + 12, capLen, origLen, this.lastSec, this.lastNsec);
  }

  protected truncatedMessage(have: number, need: number): string {
    return `file ends inside a pcapng block (${have} of ${need} bytes; after packet ${this.packets})`;
  }

  protected override finish(leftover: number): void {
    if (this.consumed === 0 && leftover === 0) this.fail(new CaptureFormatError('empty', 0, 'no data (zero bytes)'));
    try {
      super.finish(leftover);
    } catch (e) {
      if (e instanceof CaptureFormatError) e.packetsBefore = this.packets;
      throw e;
    }
  }
}

const decoder = new TextDecoder();
function utf8(b: Uint8Array, off: number, len: number): string {
  let end = off + len;
  while (end > off && b[end - 1] === 0) end--;
  return decoder.decode(b.subarray(off, end));
}
