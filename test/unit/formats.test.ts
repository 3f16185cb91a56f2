import { describe, expect, it } from 'vitest';
import { CaptureReader, nanoWords, PcapWriter, PcapngWriter } from '../../main/engine/formats';
import { expectedReal, MALFORMED, readFixture, REAL } from '../helpers/fixtures';
import { concatBytes } from '../../main/engine/util/bytes';
import { NgBuilder } from '../helpers/pcapng-builder';
import { readAll } from '../helpers/read-all';

const sig = (r: ReturnType<typeof readAll>) =>
  r.packets.map((p) => `${p.frame}|${p.tsSec}.${p.tsNsec}|${p.ifIndex}|${p.linkType}|${p.origLen}|${p.fileOffset}|${Buffer.from(p.data).toString('hex')}`);

describe('chunked reading', () => {
  // Records split across chunks at every possible place give the same packets.
  for (const [dir, f] of [
    [REAL, 'zeek-http-get.pcap'],
    [REAL, 'tcpdump-pptp-be.pcap'],
    [REAL, 'zeek-http-get-to-ssh-server-nsec.pcap'],
    [REAL, 'zeek-mysql-caching-sha2-after-switch.pcapng'],
    [REAL, 'gopacket-pcapng-be-test202.pcapng'],
    [MALFORMED, 'mk-cut-mid-packet--zeek-http-get.pcap'],
  ] as const) {
    it(`${f}: same packets for chunk sizes 1..97 and random sizes`, () => {
      const bytes = readFixture(dir, f);
      const whole = readAll(bytes);
      expect(whole.packets.length).toBeGreaterThan(0);
      const want = sig(whole);
      for (let n = 1; n <= 97; n++) {
        const r = readAll(bytes, n);
        expect(sig(r)).toEqual(want);
        expect(r.error?.kind).toBe(whole.error?.kind);
        expect(r.error?.offset).toBe(whole.error?.offset);
      }
      let seed = 7;
      const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 3000) + 1;
      expect(sig(readAll(bytes, rnd))).toEqual(want);
    });
  }

  it('hands out views into the pushed chunk, copying only split records', () => {
    const bytes = readFixture(REAL, 'zeek-http-get.pcap');
    const seen: boolean[] = [];
    const r = new CaptureReader({ packet: (p) => seen.push(p.buf.buffer === bytes.buffer) });
    r.push(bytes);
    r.end();
    expect(seen.every(Boolean)).toBe(true);
  });
});

describe('pcap', () => {
  it('reads big-endian microsecond files', () => {
    const r = readAll(readFixture(REAL, 'tcpdump-pptp-be.pcap'));
    expect(r.reader.format).toBe('pcap');
    expect(r.reader.littleEndian).toBe(false);
    expect(r.packets.length).toBe(23);
    expect(r.packets.every((p) => p.tsNsec % 1000 === 0)).toBe(true);
  });
  it('reads nanosecond files exactly', () => {
    const r = readAll(readFixture(REAL, 'zeek-http-get-to-ssh-server-nsec.pcap'));
    expect(r.reader.format).toBe('pcap-nsec');
    const first = expectedReal()['zeek-http-get-to-ssh-server-nsec.pcap'].connections[0].first_ts;
    expect(`${r.packets[0].tsSec}.${String(r.packets[0].tsNsec).padStart(9, '0')}`).toBe(first);
  });
  it('reports snaplen and link type from the global header', () => {
    const r = readAll(readFixture(REAL, 'suri-decode-sll2-01.pcap'));
    expect(r.interfaces).toHaveLength(1);
    expect(r.interfaces[0].linkType).toBe(276);
  });
  it('reads timestamps past 2038 as unsigned seconds', () => {
    const r = readAll(readFixture(MALFORMED, 'tcpdump-time-2038-overflow.pcap'));
    expect(r.packets[0].tsSec).toBeGreaterThanOrEqual(2 ** 31);
  });
  it('accepts records up to a large snaplen but not beyond', () => {
    const out: Uint8Array[] = [];
    const w = new PcapWriter((c) => out.push(c), { linkType: 1, snapLen: 300000 });
    w.packet(1, 0, new Uint8Array(290000));
    expect(readAll(concatBytes(out)).packets[0].data.length).toBe(290000);
    const out2: Uint8Array[] = [];
    const w2 = new PcapWriter((c) => out2.push(c), { linkType: 1, snapLen: 65535 });
    w2.packet(1, 0, new Uint8Array(100));
    const b = concatBytes(out2);
    new DataView(b.buffer).setUint32(24 + 8, 300000, true);
    expect(readAll(b).error?.kind).toBe('bad-record');
  });
});

describe('pcapng', () => {
  for (const le of [true, false]) {
    const order = le ? 'little' : 'big';
    it(`${order}-endian: several sections, interfaces, resolutions and offsets`, () => {
      const a = new NgBuilder(le)
        .shb()
        .idb(1, 65535, { name: 'eth0' }) // default 10^-6
        .idb(101, 2048, { tsresol: 9 }) // nanoseconds
        .raw(5, [1, 2, 3, 4]) // ISB: skipped
        .epb(0, 1_500_000_123_456n, [1, 2, 3])
        .epb(1, 1_700_000_000_123_456_789n, [4, 5, 6, 7, 8], 1500)
        .raw(4, [0, 0, 0, 0]) // NRB: skipped
        .raw(0x0000000a, [9, 9, 9, 9]) // DSB: skipped
        .raw(0x00000bad, [0, 0, 0, 1]) // custom: skipped
        .bytes();
      const b = new NgBuilder(!le)
        .shb()
        .idb(113, 0, { tsresol: 0x80 | 10, tsoffset: 1000 }) // 2^-10 s units, +1000 s
        .idb(228, 100, { tsresol: 3 })
        .epb(0, (5n << 10n) + 512n, [0xaa])
        .epb(1, 42_123n, [0xbb, 0xcc])
        .spb([1, 2, 3, 4, 5, 6], 6) // interface 0 of this section, previous time
        .pb(1, 7_000n, [0xdd])
        .raw(0x12345678, []) // unknown: skipped
        .bytes();
      const r = readAll(concatBytes([a, b]));
      expect(r.error).toBeNull();
      expect(r.reader.sections).toBe(2);
      expect(r.interfaces.map((i) => [i.index, i.linkType])).toEqual([
        [0, 1],
        [1, 101],
        [2, 113],
        [3, 228],
      ]);
      expect(r.interfaces[0].name).toBe('eth0');
      expect(r.packets.map((p) => [p.ifIndex, p.linkType, p.tsSec, p.tsNsec, p.data.length, p.origLen])).toEqual([
        [0, 1, 1_500_000, 123_456_000, 3, 3],
        [1, 101, 1_700_000_000, 123_456_789, 5, 1500],
        [2, 113, 1005, 500_000_000, 1, 1],
        [3, 228, 42, 123_000_000, 2, 2],
        [2, 113, 42, 123_000_000, 6, 6],
        [3, 228, 7, 0, 1, 1],
      ]);
      expect(r.reader.anomalies.skippedBlocks).toBe(5);
    });
  }

  it('rejects blocks whose lengths cannot be right', () => {
    const good = new NgBuilder(true).shb().idb(1, 0).bytes();
    const odd = concatBytes([good, Uint8Array.from([6, 0, 0, 0, 13, 0, 0, 0])]);
    expect(readAll(odd).error?.kind).toBe('bad-record');
    const tiny = concatBytes([good, Uint8Array.from([6, 0, 0, 0, 8, 0, 0, 0])]);
    expect(readAll(tiny).error?.kind).toBe('bad-record');
  });

  it('requires a section header first', () => {
    const b = new NgBuilder(true).idb(1, 0).bytes();
    expect(readAll(b).error?.kind).toBe('not-a-capture');
  });

  it('caps SPB captured length at the interface snaplen', () => {
    const b = new NgBuilder(true).shb().idb(1, 4).spb([1, 2, 3, 4, 5, 6, 7, 8], 8).bytes();
    const r = readAll(b);
    expect(r.packets[0].data.length).toBe(4);
    expect(r.packets[0].origLen).toBe(8);
  });
});

describe('writers round-trip through the readers', () => {
  const pkts = [
    { sec: 1_600_000_000, nsec: 1_000, data: Uint8Array.from([1, 2, 3]), orig: 3 },
    { sec: 1_600_000_001, nsec: 999_999_000, data: new Uint8Array(1514).fill(7), orig: 1514 },
    { sec: 4_102_444_800, nsec: 5_000, data: Uint8Array.from([9]), orig: 60 },
  ];
  for (const nanoseconds of [false, true]) {
    it(`pcap (${nanoseconds ? 'ns' : 'µs'})`, () => {
      const out: Uint8Array[] = [];
      const w = new PcapWriter((c) => out.push(c), { linkType: 113, nanoseconds });
      for (const p of pkts) w.packet(p.sec, p.nsec, p.data, p.orig);
      const r = readAll(concatBytes(out), 5);
      expect(r.error).toBeNull();
      expect(r.reader.format).toBe(nanoseconds ? 'pcap-nsec' : 'pcap');
      expect(r.packets.map((p) => [p.linkType, p.tsSec, p.tsNsec, Array.from(p.data), p.origLen])).toEqual(
        pkts.map((p) => [113, p.sec, p.nsec, Array.from(p.data), p.orig]),
      );
    });
  }
  it('pcapng keeps interfaces, link types and nanoseconds', () => {
    const out: Uint8Array[] = [];
    const w = new PcapngWriter((c) => out.push(c));
    const e = w.addInterface({ linkType: 1, name: 'eth0' });
    const r6 = w.addInterface({ linkType: 229, snapLen: 9000 });
    w.packet(e, 1_700_000_000, 123_456_789, Uint8Array.from([1, 2, 3, 4, 5]), 60);
    w.packet(r6, 1_700_000_001, 1, Uint8Array.from([0x60]));
    expect(() => w.packet(5, 0, 0, new Uint8Array(1))).toThrow(RangeError);
    const r = readAll(concatBytes(out), 3);
    expect(r.error).toBeNull();
    expect(r.interfaces.map((i) => [i.linkType, i.name ?? null, i.tsUnitsPerSecond])).toEqual([
      [1, 'eth0', 1e9],
      [229, null, 1e9],
    ]);
    expect(r.packets.map((p) => [p.ifIndex, p.linkType, p.tsSec, p.tsNsec, Array.from(p.data), p.origLen])).toEqual([
      [0, 1, 1_700_000_000, 123_456_789, [1, 2, 3, 4, 5], 60],
      [1, 229, 1_700_000_001, 1, [0x60], 1],
    ]);
  });
  it('a real capture rewritten as pcapng reads back identically', () => {
    const src = readAll(readFixture(REAL, 'zeek-http-get-to-ssh-server-nsec.pcap'));
    const out: Uint8Array[] = [];
    const w = new PcapngWriter((c) => out.push(c));
    const id = w.addInterface({ linkType: src.packets[0].linkType });
    for (const p of src.packets) w.packet(id, p.tsSec, p.tsNsec, p.data, p.origLen);
    const back = readAll(concatBytes(out));
    expect(back.packets.map((p) => [p.tsSec, p.tsNsec, Array.from(p.data)])).toEqual(
      src.packets.map((p) => [p.tsSec, p.tsNsec, Array.from(p.data)]),
    );
  });
});

describe('pcapng timestamps without BigInt', () => {
  it('nanoWords gives the exact 64-bit nanosecond count for any 32-bit second and nanosecond', () => {
    const cases: [number, number][] = [
      [0, 0],
      [0, 999_999_999],
      [1, 0],
      [65535, 999_999_999],
      [65536, 1],
      [1_700_000_000, 123_456_789],
      [2 ** 31, 500_000_000],
      [2 ** 32 - 1, 999_999_999],
    ];
    // and a spread of others, deterministic
    for (let i = 0, x = 12345; i < 2000; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      cases.push([x, (x * 7919) % 1_000_000_000]);
    }
    const got = [0, 0];
    for (const [sec, nsec] of cases) {
      nanoWords(sec, nsec, got);
      const units = BigInt(sec) * 1_000_000_000n + BigInt(nsec);
      expect(got, `${sec}.${nsec}`).toEqual([Number(units >> 32n), Number(units & 0xffffffffn)]);
    }
  });
});

describe('writers building records in one reused buffer (scratch)', () => {
  it('write the same bytes as with a new array per record, padding zeroed after longer records', () => {
    const sizes = [60, 1514, 61, 62, 63, 9000, 17, 1];
    const run = (scratch: boolean) => {
      const out: Uint8Array[] = [];
      const copy = (c: Uint8Array) => out.push(c.slice());
      const ng = new PcapngWriter(copy, 'test', { scratch });
      const id = ng.addInterface({ linkType: 1, snapLen: 65535 });
      const pc = new PcapWriter(copy, { linkType: 1, nanoseconds: true, snapLen: 4096, scratch });
      sizes.forEach((n, i) => {
        const data = new Uint8Array(n).map((_, j) => (j * 13 + i) & 255);
        ng.packet(id, 1_700_000_000 + i, i * 1000, data, n + 5);
        pc.packet(1_700_000_000 + i, i * 1000, data);
      });
      return concatBytes(out);
    };
    const fresh = run(false);
    expect(run(true)).toEqual(fresh);
    expect(fresh.length).toBeGreaterThan(15_000);
  });
});
