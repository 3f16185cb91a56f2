/** Hand-built pcapng blocks in either byte order, for reader tests. */
export class NgBuilder {
  private parts: number[] = [];
  constructor(readonly le: boolean) {}

  u16(n: number): number[] {
    return this.le ? [n & 0xff, (n >>> 8) & 0xff] : [(n >>> 8) & 0xff, n & 0xff];
  }
  u32(n: number): number[] {
    n >>>= 0;
    return this.le ? [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24] : [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  }
  option(code: number, value: number[]): number[] {
    const pad = (4 - (value.length % 4)) % 4;
    return [...this.u16(code), ...this.u16(value.length), ...value, ...new Array(pad).fill(0)];
  }
  block(type: number, body: number[]): this {
    const total = body.length + 12;
    this.parts.push(...this.u32(type), ...this.u32(total), ...body, ...this.u32(total));
    return this;
  }
  shb(major = 1, minor = 0): this {
    return this.block(0x0a0d0d0a, [...this.u32(0x1a2b3c4d), ...this.u16(major), ...this.u16(minor), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  }
  idb(linkType: number, snapLen: number, opts: { tsresol?: number; tsoffset?: number; name?: string } = {}): this {
    const o: number[] = [];
    if (opts.name) o.push(...this.option(2, [...new TextEncoder().encode(opts.name)]));
    if (opts.tsresol !== undefined) o.push(...this.option(9, [opts.tsresol]));
    if (opts.tsoffset !== undefined) {
      const hi = Math.floor(opts.tsoffset / 4294967296);
      const lo = opts.tsoffset >>> 0;
      o.push(...this.option(14, this.le ? [...this.u32(lo), ...this.u32(hi)] : [...this.u32(hi), ...this.u32(lo)]));
    }
    if (o.length) o.push(0, 0, 0, 0);
    return this.block(1, [...this.u16(linkType), 0, 0, ...this.u32(snapLen), ...o]);
  }
  epb(iface: number, tsUnits: bigint, data: number[], origLen = data.length): this {
    const pad = (4 - (data.length % 4)) % 4;
    return this.block(6, [
      ...this.u32(iface),
      ...this.u32(Number(tsUnits >> 32n)),
      ...this.u32(Number(tsUnits & 0xffffffffn)),
      ...this.u32(data.length),
      ...this.u32(origLen),
      ...data,
      ...new Array(pad).fill(0),
    ]);
  }
  spb(data: number[], origLen = data.length): this {
    const pad = (4 - (data.length % 4)) % 4;
    return this.block(3, [...this.u32(origLen), ...data, ...new Array(pad).fill(0)]);
  }
  pb(iface: number, tsUnits: bigint, data: number[]): this {
    const pad = (4 - (data.length % 4)) % 4;
    return this.block(2, [
      ...this.u16(iface),
      ...this.u16(0),
      ...this.u32(Number(tsUnits >> 32n)),
      ...this.u32(Number(tsUnits & 0xffffffffn)),
      ...this.u32(data.length),
      ...this.u32(data.length),
      ...data,
      ...new Array(pad).fill(0),
    ]);
  }
  raw(type: number, body: number[]): this {
    return this.block(type, body);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}
