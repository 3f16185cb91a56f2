/**
 * Decode anomalies: broken or unknown layers are counted by kind, never thrown (STYLE.md §2).
 * The names are what `weft info` prints; keep them stable.
 */
import { indexOf, NamedCounters } from '../util/counters';

export const DECODE_ANOMALY_NAMES = [
  'unsupported-link-type',
  'truncated-link-header',
  'non-ip', // ARP, LLC, PPPoE discovery, other ethertypes: not an error, just not IP
  'llc-frame',
  'ipv4-truncated-header',
  'ipv4-bad-version',
  'ipv4-bad-header-length',
  'ipv4-bad-total-length',
  'ipv4-zero-total-length', // TSO/GSO capture: the captured length was used
  'ipv4-bad-checksum',
  'ip-payload-truncated', // snaplen cut the packet short of what the IP header says
  'ipv6-truncated-header',
  'ipv6-bad-version',
  'ipv6-bad-extension-header',
  'ipv6-bad-jumbogram',
  'frag-overlap',
  'frag-conflict',
  'frag-timeout',
  'frag-limit',
  'frag-too-big',
  'frag-bad',
  'tcp-truncated-header',
  'tcp-bad-data-offset',
  'tcp-bad-option',
  'udp-truncated-header',
  'udp-bad-length',
  'gre-unsupported',
  'tunnel-too-deep',
  'wlan-encrypted', // 802.11 data protected by WEP/WPA: unreadable without keys
] as const;

export type DecodeAnomalyName = (typeof DECODE_ANOMALY_NAMES)[number];
export const DA = indexOf(DECODE_ANOMALY_NAMES);

export class DecodeAnomalies extends NamedCounters<DecodeAnomalyName> {
  constructor() {
    super(DECODE_ANOMALY_NAMES);
  }
}
