/** LINKTYPE_* numbers Weft decodes, with the names tcpdump and tshark users know. */
export const LinkType = {
  NULL: 0,
  ETHERNET: 1,
  PPP: 9,
  RAW_OPENBSD: 12, // DLT_RAW on OpenBSD: raw IP
  RAW_BSDOS: 14, // DLT_RAW on BSD/OS: raw IP
  PPP_HDLC: 50,
  PPP_ETHER: 51, // PPPoE session payload without the Ethernet header
  RAW: 101,
  C_HDLC: 104,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
  ARCNET_BSD: 7,
  FDDI: 10,
  ENC: 109,
  PFLOG: 117,
  IEEE802_11: 105,
  PRISM: 119,
  ARCNET_LINUX: 129,
  AVS: 163,
  JUNIPER_ETHER: 178,
  PPI: 192,
  RADIOTAP: 127,
  NFLOG: 239,
  IPOIB: 242,
} as const;

const names: Record<number, string> = {
  0: 'null',
  1: 'ether',
  9: 'ppp',
  12: 'raw',
  14: 'raw',
  50: 'ppp-hdlc',
  51: 'pppoe',
  101: 'raw',
  104: 'c-hdlc',
  108: 'loop',
  113: 'linux-sll',
  228: 'ipv4',
  229: 'ipv6',
  276: 'linux-sll2',
  7: 'arcnet',
  10: 'fddi',
  105: 'ieee802-11',
  109: 'enc',
  117: 'pflog',
  119: 'prism',
  127: 'radiotap',
  129: 'arcnet-linux',
  163: 'avs',
  178: 'juniper-ether',
  192: 'ppi',
  239: 'nflog',
  242: 'ipoib',
};

export function linkTypeName(t: number): string {
  return names[t] ?? `linktype-${t}`;
}
