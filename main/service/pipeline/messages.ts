/**
 * `weft messages`: protocol messages out of capture files. Each connection is reassembled, its
 * protocol detected from its first bytes (any port), and both directions fed to the plugin's
 * parsers — gaps included, so parsers resynchronise instead of misreading. Each message comes
 * with the capture time and frame of its first byte.
 */
import type { CaptureFormatError } from '../../engine/formats';
import { detectProtocol, PLUGINS, type DirectionParser, type OptionValues, type ProtocolMessage, type ProtocolPlugin } from '../../engine/protocols';
import type { CaptureInfo, ConnectionState, NetFlow, ScatterGather, Stream, TcpFlow } from '../../engine/reassembly';
import { copyBytes } from '../../engine/util/bytes';
import { lastAtOrBefore } from '../../engine/util/search';
import { DETECT_BYTES } from '../../engine/flows';
import { finishFields, jsonSafe, PARSER_HOST } from './message-content';
import { formatTime } from '../../engine/util/time';
import { PacketPipeline, readInputs, type PipelineOptions } from './packet-pipeline';

export interface MessageRecord {
  client: string;
  server: string;
  protocol: string;
  dir: 'c2s' | 's2c';
  /** Capture time of the message's first byte: float seconds, and exactly as seconds + ns. */
  time: number;
  tsSec: number;
  tsNsec: number;
  frame: number;
  start: number;
  end: number;
  kind: string;
  summary: string;
  fields: Record<string, unknown>;
}


export class MessageStream implements Stream {
  private plugin: ProtocolPlugin | null = null;
  private parsers: [DirectionParser, DirectionParser] | null = null;
  private undecided = false;
  private readonly held: [Uint8Array[], Uint8Array[]] = [[], []];
  private readonly offset = [0, 0];
  /** Per direction: stream offsets where pieces start, and their frame and time. */
  private readonly marks: [number[], number[]] = [[], []];
  private readonly info: [CaptureInfo[], CaptureInfo[]] = [[], []];

  /** The connection's endpoints, given, or read from the engine's connection when it attaches. */
  private client = '';
  private server = '';

  constructor(
    private readonly plugins: readonly ProtocolPlugin[],
    private readonly emit: (m: MessageRecord, connection: number) => void,
    /** Ports of the connection: a plugin whose port it uses parses it even if detection says no. */
    private readonly byPort: number[] | null,
    private readonly options: Record<string, OptionValues>,
    endpoints?: { client: string; server: string },
    /** Told once the connection's last message is out (a sharded worker forgets its number then). */
    private readonly ended?: (connection: number) => void,
  ) {
    if (endpoints) ({ client: this.client, server: this.server } = endpoints);
  }

  /** The engine's number of the connection (0 until it attaches). */
  private id = 0;

  attach(c: ConnectionState): void {
    this.id = c.id;
    if (this.client !== '') return;
    this.client = c.client;
    this.server = c.server;
  }

  accept(): boolean {
    return true;
  }

  reassembledSG(sg: ScatterGather): void {
    const i = sg.info();
    const dir = i.dir;
    const [n] = sg.lengths();
    // offsets count delivered bytes only, like the spool, the gap list and --follow: a gap is
    // between two offsets, not inside the numbering (its length may even be unknown: -1)
    if (i.skip !== 0) this.parsers?.[dir].gap(i.skip < 0 ? Infinity : i.skip);
    // no plugin claimed the connection: nothing to parse, so no copies and no frame marks
    if (n === 0 || this.undecided) return;
    let pos = this.offset[dir];
    sg.pieces((_b, _o, len, ci) => {
      this.marks[dir].push(pos);
      this.info[dir].push({ ...ci });
      pos += len;
    });
    if (!this.parsers) {
      this.held[dir].push(copyBytes(sg.fetch(n))); // kept past this call: a copy
      const have = this.held[dir].reduce((s, b) => s + b.length, 0);
      if (have >= DETECT_BYTES) this.decide();
    } else this.feed(dir, sg.fetch(n), this.offset[dir]); // parsers copy what they keep
    this.offset[dir] += n;
  }

  private decide(): void {
    const first = this.held.map((bs) => {
      const all = new Uint8Array(bs.reduce((s, b) => s + b.length, 0));
      let o = 0;
      for (const b of bs) {
        all.set(b, o);
        o += b.length;
      }
      return all;
    }) as [Uint8Array, Uint8Array];
    this.plugin = detectProtocol(first, this.plugins) ?? this.plugins.find((p) => this.byPort?.some((port) => p.ports.includes(port))) ?? null;
    if (!this.plugin) {
      this.undecided = true;
      return;
    }
    this.parsers = this.plugin.parsers(PARSER_HOST, this.options[this.plugin.name]);
    // replay what was held in capture order (the direction whose first bytes came first goes
    // first), so a capture that starts with a server reply does not pair it with a later command
    const firstFrame = (dir: 0 | 1) => this.info[dir][0]?.frame ?? Infinity;
    const order: (0 | 1)[] = firstFrame(0) <= firstFrame(1) ? [0, 1] : [1, 0];
    for (const dir of order) {
      let o = 0;
      for (const b of this.held[dir]) {
        this.feed(dir, b, o);
        o += b.length;
      }
      this.held[dir] = [];
    }
  }

  private feed(dir: 0 | 1, b: Uint8Array, at: number): void {
    if (!this.parsers) return;
    for (const m of this.parsers[dir].push(b, at)) this.out(m);
  }

  private out(m: ProtocolMessage): void {
    const marks = this.marks[m.dir];
    const ci = this.info[m.dir][lastAtOrBefore(marks.length, (i) => marks[i], m.start)] ?? { tsSec: 0, tsNsec: 0, frame: 0 };
    this.emit({
      client: this.client,
      server: this.server,
      protocol: this.plugin!.name,
      dir: m.dir === 0 ? 'c2s' : 's2c',
      time: ci.tsSec + ci.tsNsec / 1e9,
      tsSec: ci.tsSec,
      tsNsec: ci.tsNsec,
      frame: ci.frame,
      start: m.start,
      end: m.end,
      kind: m.kind,
      summary: m.summary,
      fields: finishFields(this.plugin!.name, m.fields),
    }, this.id);
    this.forget(m.dir, m.end);
  }

  /**
   * A parser emits its direction's messages in stream order, so no later message starts before
   * `end`: the marks of the pieces wholly before it can go (a long connection would otherwise keep
   * one per packet for its whole life).
   */
  private forget(dir: 0 | 1, end: number): void {
    const marks = this.marks[dir];
    const k = lastAtOrBefore(marks.length, (i) => marks[i], end);
    if (k >= 64) {
      marks.splice(0, k);
      this.info[dir].splice(0, k);
    }
  }

  reassemblyComplete(): boolean {
    if (!this.parsers && !this.undecided) this.decide();
    if (this.parsers) for (const p of this.parsers) for (const m of p.end()) this.out(m);
    this.ended?.(this.id);
    return true;
  }
}

/** The packet pipeline with a message stream per connection (files, pipes, and live for `weft sniff`). */
export interface MessagePipelineOptions extends PipelineOptions {
  /** Plugin options by plugin name (see parseOptions). */
  pluginOptions?: Record<string, OptionValues>;
  /**
   * Parse a connection on a plugin's port with that plugin even when its first bytes are not
   * recognised (a capture started mid-conversation): `weft sniff`, where the user named the protocol.
   */
  byPort?: boolean;
}

export class MessagePipeline extends PacketPipeline {
  /** `onMessage` is given each message and its connection's number; `ended`, a connection's number after its last message. */
  constructor(onMessage: (m: MessageRecord, connection: number) => void, plugins: readonly ProtocolPlugin[] = PLUGINS, opts: MessagePipelineOptions = {}, ended?: (connection: number) => void) {
    super(
      {
        new: (_net: NetFlow, f: TcpFlow) => new MessageStream(plugins, onMessage, opts.byPort ? [f.serverPort, f.clientPort] : null, opts.pluginOptions ?? {}, undefined, ended),
      },
      opts,
    );
  }
}

/** Reads the files ("-" is stdin) and emits every message of the chosen plugins (all by default). */
export async function runMessages(
  files: string[],
  onMessage: (m: MessageRecord) => void,
  plugins: readonly ProtocolPlugin[] = PLUGINS,
  pluginOptions: Record<string, OptionValues> = {},
  maxConnections?: number,
): Promise<{ errors: CaptureFormatError[] }> {
  const pipe = new MessagePipeline(onMessage, plugins, { pluginOptions, assembler: maxConnections ? { maxConnections } : undefined });
  const errors = await readInputs(files, pipe);
  pipe.end();
  return { errors };
}

/** One message as a line for people (time, protocol, who → whom, byte range, summary) or as JSON. */
export function messageLine(m: MessageRecord, json: boolean): string {
  if (json) {
    const { fields, ...rest } = m;
    return JSON.stringify({ ...rest, fields: jsonSafe(fields) });
  }
  const arrow = m.dir === 'c2s' ? `${m.client} > ${m.server}` : `${m.server} > ${m.client}`;
  return `${formatTime(m.tsSec, m.tsNsec)} ${m.protocol} ${arrow} [${m.start}-${m.end}) ${m.summary}`;
}
