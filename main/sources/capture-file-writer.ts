/**
 * Saving a live capture to pcapng while it is analysed, optionally as a ring of files
 * (Wireshark's -b filesize/files): `base_00001.pcapng`, `base_00002.pcapng`, … each at most
 * `maxFileBytes`, keeping the newest `maxFiles`. Writes go through a 1 MiB buffer; close() flushes
 * everything, so nothing captured is lost when the user stops.
 */
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { PcapngWriter } from '../engine/formats';

export interface RingOptions {
  /** Rotate when a file reaches this many bytes (0: one file, no ring). */
  maxFileBytes?: number;
  /** Keep at most this many files (0: keep all). */
  maxFiles?: number;
  linkType: number;
  snapLen?: number;
  interfaceName?: string;
  /** Never replace a file: one that exists already is an error (the app and weft serve; `weft capture -w` replaces, as tcpdump does). */
  exclusive?: boolean;
}

export class PcapngFileWriter {
  private fd = -1;
  private writer: PcapngWriter | null = null;
  private iface = 0;
  private fileBytes = 0;
  private index = 0;
  private buf = Buffer.allocUnsafe(1 << 20);
  private bufLen = 0;
  readonly files: string[] = [];
  packets = 0;
  private readonly started = Date.now();

  constructor(
    private readonly path: string,
    private readonly o: RingOptions,
  ) {
    this.openNext();
  }

  private name(): string {
    if (!this.o.maxFileBytes) return this.path;
    const m = /^(.*?)(\.pcapng)?$/i.exec(this.path)!;
    return `${m[1]}_${String(this.index).padStart(5, '0')}.pcapng`;
  }

  private openNext(): void {
    this.index++;
    const file = this.name();
    try {
      this.fd = openSync(file, this.o.exclusive ? 'wx' : 'w');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`${file} exists already: choose another name (nothing is replaced)`);
      throw new Error(`cannot write ${file}: ${(e as Error).message}`);
    }
    this.files.push(file);
    this.fileBytes = 0;
    this.writer = new PcapngWriter((c) => this.put(c));
    this.iface = this.writer.addInterface({ linkType: this.o.linkType, snapLen: this.o.snapLen ?? 65535, name: this.o.interfaceName });
    const keep = this.o.maxFiles ?? 0;
    while (keep > 0 && this.files.length > keep) unlinkSync(this.files.shift()!);
  }

  private put(c: Uint8Array): void {
    this.fileBytes += c.length;
    if (this.bufLen + c.length > this.buf.length) this.flush();
    if (c.length > this.buf.length) {
      writeSync(this.fd, c);
      return;
    }
    this.buf.set(c, this.bufLen);
    this.bufLen += c.length;
  }

  private flush(): void {
    if (this.bufLen === 0) return;
    let w = 0;
    while (w < this.bufLen) w += writeSync(this.fd, this.buf, w, this.bufLen - w);
    this.bufLen = 0;
  }

  /** Writes one packet (copied). */
  packet(tsSec: number, tsNsec: number, data: Uint8Array, origLen: number): void {
    if (this.o.maxFileBytes && this.fileBytes >= this.o.maxFileBytes) {
      this.flush();
      closeSync(this.fd);
      this.openNext();
    }
    this.writer!.packet(this.iface, tsSec, tsNsec, data, origLen);
    this.packets++;
  }

  /** Closes the file; with `stats`, an Interface Statistics Block first (what the capture counted, what the kernel dropped). */
  close(stats?: { received: number; kernelDropped?: number | null; comment?: string }): void {
    if (this.fd < 0) return;
    if (stats) {
      const now = Date.now();
      const end = { sec: Math.floor(now / 1000), nsec: (now % 1000) * 1e6 };
      const start = { sec: Math.floor(this.started / 1000), nsec: (this.started % 1000) * 1e6 };
      this.writer!.statistics(this.iface, {
        comment: stats.comment,
        start,
        end,
        received: stats.received,
        ...(stats.kernelDropped !== undefined && stats.kernelDropped !== null ? { interfaceDropped: stats.kernelDropped } : {}),
      });
    }
    this.flush();
    closeSync(this.fd);
    this.fd = -1;
  }
}
