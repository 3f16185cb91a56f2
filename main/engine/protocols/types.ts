/**
 * Protocol plugins (go-sniffer style, but over reassembled streams, on files and live).
 *
 * A plugin says what it is (name, version, default BPF filter, options), how to recognise its
 * traffic (ports, and a look at the first bytes of each direction), and makes one parser per
 * direction. A parser is fed the direction's bytes in order, in pieces cut anywhere:
 *
 *   push(bytes, streamOffset) → messages completed by these bytes (maybe none: "need more bytes"
 *                               is the normal case, not an error)
 *   gap(length)               → bytes were lost: the parser resynchronises (or stops, saying why)
 *   end()                     → the direction ended: messages that end with the stream complete
 *
 * Messages carry their byte range in the direction's stream [start, end) so a UI can jump from a
 * message to its bytes and frames. A parser never throws on traffic: garbage becomes a resync or
 * a recorded stop reason.
 */
export type Direction = 0 | 1;

export interface ProtocolMessage {
  /** 'request' or 'response' (or a protocol's own kind). */
  kind: string;
  dir: Direction;
  /** Byte range of the message in its direction's delivered stream. */
  start: number;
  end: number;
  /** A line for people: request line and status, command, SQL, … */
  summary: string;
  /** Protocol-specific fields. */
  fields: Record<string, unknown>;
}

export interface DirectionParser {
  /**
   * The next bytes of the direction, at `streamOffset`. `bytes` may be a view of the engine's
   * pages, valid only during the call: a parser copies whatever it keeps.
   */
  push(bytes: Uint8Array, streamOffset: number): ProtocolMessage[];
  gap(length: number): void;
  end(): ProtocolMessage[];
  /** Why the parser gave up on this direction, or null while it is parsing. */
  readonly stopped: string | null;
}

/**
 * What the host lends parsers that the engine cannot do itself (the engine links no Node
 * module): the service layer passes node's zlib. A parser without it notices and goes on.
 */
export interface ParserHost {
  /** Inflates a zlib stream (or its start, when cut short) to at most `maxOutput` bytes, or null when it is not one. */
  inflate?(data: Uint8Array, maxOutput: number): Uint8Array | null;
}

/** A plugin's tunable: a whole number with its default and bounds (sizes and counts). */
export interface PluginOption {
  name: string;
  description: string;
  default: number;
  min: number;
  max: number;
}

/** Option values by name (missing ones take their defaults). */
export type OptionValues = Readonly<Record<string, number>>;

export interface ProtocolPlugin {
  name: string;
  version: string;
  /** What can be tuned (`weft plugins` lists them; `--option NAME=VALUE` sets them). */
  options: readonly PluginOption[];
  /** What `weft sniff` captures with by default. */
  bpf: string;
  /** Ports the protocol usually runs on (a hint; content decides). */
  ports: number[];
  /** Does this look like the protocol? `first` holds the first bytes the client sent (up to 64). */
  detect(first: Uint8Array, dir: Direction): boolean;
  /** A parser per direction; the two share state to pair requests with responses. */
  parsers(host?: ParserHost, options?: OptionValues): [DirectionParser, DirectionParser];
}

/** The value of option `name` of `plugin`: the given one, else its default. */
export function option(plugin: { options: readonly PluginOption[] }, values: OptionValues | undefined, name: string): number {
  const o = plugin.options.find((x) => x.name === name);
  if (!o) throw new Error(`no option ${name}`);
  return values?.[name] ?? o.default;
}
