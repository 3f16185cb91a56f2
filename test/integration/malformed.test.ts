/**
 * Every broken capture yields a typed error with the byte offset, or a clean result; never an
 * uncaught exception or a hang. Files made from a real capture (mk-*) must give back exactly the
 * packets of the original that come before the damage.
 */
import { describe, expect, it } from 'vitest';
import { PacketDecoder } from '../../main/engine/decode';
import { captureFiles, MALFORMED, readFixture, REAL } from '../helpers/fixtures';
import { readAll } from '../helpers/read-all';

type Want = { error: string | null; packets: number; offset?: number; from?: string };

// What each damaged file must give: error kind (null = reads cleanly), packets before the damage,
// the offset where it is reported, and the real capture it was made from.
const table: Record<string, Want> = {
  'mk-cut-global-header--zeek-http-get.pcap': { error: 'truncated', packets: 0, offset: 0 },
  'mk-cut-mid-record-header--zeek-http-get.pcap': { error: 'truncated', packets: 3, offset: 290, from: 'zeek-http-get.pcap' },
  'mk-cut-mid-packet--zeek-http-get.pcap': { error: 'truncated', packets: 5, offset: 590, from: 'zeek-http-get.pcap' },
  'mk-cut-odd-offset--tcpdump-pptp-be.pcap': { error: 'truncated', packets: 12, from: 'tcpdump-pptp-be.pcap' },
  'mk-bad-magic--zeek-http-get.pcap': { error: 'not-a-capture', packets: 0, offset: 0 },
  'mk-huge-incl-len--zeek-http-get.pcap': { error: 'bad-record', packets: 2, offset: 208, from: 'zeek-http-get.pcap' },
  'mk-incl-gt-orig--zeek-http-get-to-ssh-server-nsec.pcap': { error: null, packets: 9 },
  'mk-zero-incl-len--zeek-http-get.pcap': { error: 'bad-record', packets: 2 },
  'mk-unknown-linktype--zeek-http-get.pcap': { error: null, packets: 14 },
  'mk-empty--zeek-http-get.pcap': { error: 'empty', packets: 0, offset: 0 },
  'mk-header-only--zeek-http-get.pcap': { error: null, packets: 0 },
  'mk-trailing-garbage--zeek-http-get.pcap': { error: 'bad-record', packets: 14, offset: 6335, from: 'zeek-http-get.pcap' },
  'mk-ng-bad-trailer-len--zeek-mysql-caching-sha2-after-switch.pcapng': { error: 'bad-record', packets: 0, offset: 284 },
  'mk-ng-block-len-huge--zeek-mysql-caching-sha2-after-switch.pcapng': { error: 'bad-record', packets: 0, offset: 284 },
  'mk-ng-bad-interface-id--zeek-mysql-caching-sha2-after-switch.pcapng': { error: 'bad-interface', packets: 0, offset: 284 },
  'mk-ng-cut-mid-block--zeek-mysql-caching-sha2-after-switch.pcapng': {
    error: 'truncated',
    packets: 3,
    offset: 600,
    from: 'zeek-mysql-caching-sha2-after-switch.pcapng',
  },
  'mk-ng-bad-bom--zeek-mysql-caching-sha2-after-switch.pcapng': { error: 'not-a-capture', packets: 0, offset: 0 },
  'mk-ng-caplen-gt-block--zeek-mysql-caching-sha2-after-switch.pcapng': { error: 'bad-record', packets: 0, offset: 284 },
  'suri-tls-der-incomplete-header.pcap': { error: 'bad-record', packets: 6, offset: 5035 },
  'suri-bug-6875-fuzz.pcap': { error: 'bad-record', packets: 1 },
  'suri-smtp-to-comma-damaged.pcap': { error: 'bad-record', packets: 18 },
  'gopacket-pcapng-le-test901.pcapng': { error: 'unsupported-version', packets: 1 },
  'gopacket-pcapng-be-test901.pcapng': { error: 'unsupported-version', packets: 1 },
};

describe('malformed captures', () => {
  for (const file of captureFiles(MALFORMED)) {
    it(file, () => {
      const bytes = readFixture(MALFORMED, file);
      const { packets, error } = readAll(bytes);
      // Decoding every packet that came out must not throw either.
      const dec = new PacketDecoder({ verifyChecksums: true });
      for (const p of packets) dec.decodeBytes(p.linkType, p.data, 0, p.data.length, p.tsSec);
      if (error) {
        expect(error.offset).toBeGreaterThanOrEqual(0);
        expect(error.offset).toBeLessThanOrEqual(bytes.length);
        expect(error.packetsBefore).toBe(packets.length);
        expect(error.message).toMatch(/at byte offset \d+/);
      }
      const want = table[file];
      if (!want) {
        // Repository files not in the table are packet-level damage: the file itself reads cleanly.
        expect(error).toBeNull();
        return;
      }
      expect(error?.kind ?? null).toBe(want.error);
      expect(packets.length).toBe(want.packets);
      if (want.offset !== undefined) expect(error?.offset).toBe(want.offset);
      if (want.from) {
        const original = readAll(readFixture(REAL, want.from)).packets.slice(0, want.packets);
        expect(packets.map((p) => [p.tsSec, p.tsNsec, Array.from(p.data)])).toEqual(
          original.map((p) => [p.tsSec, p.tsNsec, Array.from(p.data)]),
        );
      }
    });
  }

  it('reports the damage as it is pushed, before buffering a huge record', () => {
    const bytes = readFixture(MALFORMED, 'mk-huge-incl-len--zeek-http-get.pcap');
    // Push only the bytes up to and including the bad record header: the error must come now.
    const { error } = readAll(bytes.subarray(0, 208 + 16));
    expect(error?.kind).toBe('bad-record');
  });

  it('counts the fix-ups it makes on readable oddities', () => {
    const r1 = readAll(readFixture(MALFORMED, 'mk-incl-gt-orig--zeek-http-get-to-ssh-server-nsec.pcap'));
    expect(r1.reader.anomalies.capLenOverOrigLen).toBe(1);
    const r2 = readAll(readFixture(MALFORMED, 'tcpdump-timestamp-invalid-micro.pcap'));
    expect(r2.reader.anomalies.badTimestampFraction).toBeGreaterThan(0);
    for (const p of r2.packets) expect(p.tsNsec).toBeLessThan(1e9);
  });
});
