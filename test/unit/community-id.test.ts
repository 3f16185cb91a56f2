/** Community ID v1 against the spec's published test vectors (as Zeek's own tests use them). */
import { describe, expect, it } from 'vitest';
import { addressBytes, communityId } from '../../main/service/export/community-id';

const ip = addressBytes;

describe('Community ID v1', () => {
  it('TCP, UDP and a portless protocol, seeds 0 and 1, either direction', () => {
    const cases: [string, string, number, number | null, number | null, number, string][] = [
      ['1.2.3.4', '5.6.7.8', 6, 1122, 3344, 0, '1:wCb3OG7yAFWelaUydu0D+125CLM='],
      ['1.2.3.4', '5.6.7.8', 17, 1122, 3344, 0, '1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg='],
      ['1.2.3.4', '5.6.7.8', 6, 1122, 3344, 1, '1:HhA1B+6CoLbiKPEs5nhNYN4XWfk='],
      ['1.2.3.4', '5.6.7.8', 17, 1122, 3344, 1, '1:OShq+iKDAMVouh/4bMxB9Sz4amw='],
      ['1.2.3.4', '5.6.7.8', 46, null, null, 0, '1:ikv3kmf89luf73WPz1jOs49S768='],
    ];
    for (const [a, b, proto, pa, pb, seed, want] of cases) {
      expect(communityId(ip(a), ip(b), proto, pa, pb, seed)).toBe(want);
      expect(communityId(ip(b), ip(a), proto, pb, pa, seed)).toBe(want);
    }
  });

  it('reads IPv4, IPv6 and bracketed IPv6 addresses', () => {
    expect(Array.from(ip('10.0.0.1'))).toEqual([10, 0, 0, 1]);
    expect(Array.from(ip('[2001:db8::1]'))).toEqual([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(Array.from(ip('fe80:1:203:405:607:809:a0b:c0d'))).toEqual([0xfe, 0x80, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    expect(() => communityId(ip('1.2.3.4'), ip('::1'), 6, 1, 2)).toThrow(/must be IPv4 or both IPv6/);
  });
});
