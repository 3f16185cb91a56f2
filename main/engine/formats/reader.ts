/**
 * A capture reader that recognises the format from the first four bytes and then behaves as the
 * pcap or pcapng reader (push chunks, get packets; see types.ts for the reuse rules).
 *
 * Usage:
 *   const r = new CaptureReader({ packet(p) { … } });
 *   for (const chunk of chunks) r.push(chunk);   // may throw CaptureFormatError at damage
 *   r.end();                                      // throws 'truncated' if input ended mid-record
 */
import { CaptureFormatError } from './errors';
import { isPcapMagic, PcapReader } from './pcap';
import { isPcapngMagic, PcapngReader } from './pcapng';
import type { CaptureFormat, InterfaceInfo, PacketSink, ReaderAnomalies } from './types';

export class CaptureReader {
  private inner: PcapReader | PcapngReader | null = null;
  private head = new Uint8Array(4);
  private headLen = 0;

  /** The sink is handed to the format's reader as it is: no wrapper on the per-packet path. */
  constructor(private readonly sink: PacketSink) {}

  /** Interfaces described so far (pcap: one, from the global header). */
  get interfaces(): InterfaceInfo[] {
    return this.inner?.interfaces ?? [];
  }
  get format(): CaptureFormat | null {
    return this.inner?.format ?? null;
  }
  get packets(): number {
    return this.inner?.packets ?? 0;
  }
  get anomalies(): ReaderAnomalies {
    return this.inner?.anomalies ?? { capLenOverOrigLen: 0, badTimestampFraction: 0, skippedBlocks: 0 };
  }
  get bytesConsumed(): number {
    return this.inner?.bytesConsumed ?? this.headLen;
  }
  /** pcapng only: sections seen; pcap: 1 once the header is read. */
  get sections(): number {
    if (this.inner instanceof PcapngReader) return this.inner.sections;
    return this.inner ? 1 : 0;
  }
  get littleEndian(): boolean {
    return this.inner?.littleEndian ?? true;
  }

  push(chunk: Uint8Array): void {
    if (this.inner) return this.inner.push(chunk);
    const take = Math.min(4 - this.headLen, chunk.length);
    this.head.set(chunk.subarray(0, take), this.headLen);
    this.headLen += take;
    if (this.headLen < 4) return;
    if (isPcapngMagic(this.head)) this.inner = new PcapngReader(this.sink);
    else if (isPcapMagic(this.head)) this.inner = new PcapReader(this.sink);
    else {
      const h = this.head;
      const magic = Array.from(h, (x) => x.toString(16).padStart(2, '0')).join(' ');
      throw new CaptureFormatError('not-a-capture', 0, `not a pcap or pcapng file (starts with bytes ${magic})`);
    }
    this.inner.push(this.head);
    this.inner.push(chunk.subarray(take));
  }

  end(): void {
    if (this.inner) return this.inner.end();
    if (this.headLen === 0) throw new CaptureFormatError('empty', 0, 'no data (zero bytes)');
    throw new CaptureFormatError('truncated', 0, `input is only ${this.headLen} bytes long, too short for any capture header`);
  }
}
