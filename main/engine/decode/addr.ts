/**
 * Address formatting: dotted quad for IPv4, RFC 5952 for IPv6 (lower case, leading zeros dropped,
 * the longest run of two or more zero groups — the first if tied — as "::"), and endpoints as
 * "ip:port" / "[v6]:port". Allocates strings: not for the per-packet path.
 */
export function formatIPv4(b: Uint8Array, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

export function formatIPv6(b: Uint8Array, off = 0): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[off + 2 * i] << 8) | b[off + 2 * i + 1]);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) return g.map((x) => x.toString(16)).join(':');
  const head = g.slice(0, bestStart).map((x) => x.toString(16)).join(':');
  const tail = g.slice(bestStart + bestLen).map((x) => x.toString(16)).join(':');
  return `${head}::${tail}`;
}

export function formatIP(version: number, b: Uint8Array, off = 0): string {
  return version === 6 ? formatIPv6(b, off) : formatIPv4(b, off);
}

export function formatEndpoint(version: number, b: Uint8Array, port: number): string {
  return version === 6 ? `[${formatIPv6(b)}]:${port}` : `${formatIPv4(b)}:${port}`;
}

/** The address of an endpoint formatEndpoint wrote ("10.0.0.1", "2001:db8::1": no brackets). */
export function endpointHost(endpoint: string): string {
  return endpoint.slice(0, endpoint.lastIndexOf(':')).replace(/^\[|\]$/g, '');
}

/** The port of an endpoint formatEndpoint wrote. */
export function endpointPort(endpoint: string): number {
  return Number(endpoint.slice(endpoint.lastIndexOf(':') + 1));
}

/** Scratch for endpointOfWords: the words were read through an Int32Array, so writing them back through one gives the bytes in any byte order. */
const WORDS = new Int32Array(4);
const WORD_BYTES = new Uint8Array(WORDS.buffer);

/** "ip:port" of an address held as 32-bit words (as the connection table holds them; IPv4 uses w0). */
export function endpointOfWords(version: number, w0: number, w1: number, w2: number, w3: number, port: number): string {
  WORDS[0] = w0;
  if (version !== 6) return `${WORD_BYTES[0]}.${WORD_BYTES[1]}.${WORD_BYTES[2]}.${WORD_BYTES[3]}:${port}`;
  WORDS[1] = w1;
  WORDS[2] = w2;
  WORDS[3] = w3;
  return `[${formatIPv6(WORD_BYTES)}]:${port}`;
}
