/**
 * The `weft` command line. `run(argv, io)` returns the exit status: 0 on success, 2 with a
 * one-line message on bad input (the file, the byte offset, what to do), after printing
 * everything that was good.
 */
import { VERSION } from '../service/version';
import { hostPolicies } from '../service/pipeline/host-policy';
import { OVERLAP_POLICIES, type OverlapPolicy } from '../engine/reassembly';
import { parseArgs } from 'node:util';
import { DEFAULT_ASSEMBLER_OPTIONS } from '../engine/reassembly';
import { SourceError } from '../sources/capture-source';
import { liveCaptureStatus } from '../sources/live-status';
import { findDumpcap } from '../sources/dumpcap-source';
import { infoCommand } from './info';
import { BufferedOut, UsageError, type CliIO } from './io';
import { packetsCommand } from './packets';
import { flowsCommand } from './flows';
import { serveCommand } from './serve';
import { captureCommand, devicesCommand, sniffCommand } from './capture';
import { exportCommand } from './export';
import { messagesCommand, pluginsCommand } from './messages';
import { selfTestCommand } from './selftest';
import { defaultThreads, MAX_THREADS } from '../service/shards/sharded';


export const HELP = `weft ${VERSION} — read packet captures, reassemble TCP streams

Usage:
  weft info FILE… [--json]                  format, link types, packets, times, anomalies, errors
  weft packets FILE [--json] [--limit N]    one line per packet (time, link, addresses, TCP flags,
                                            seq/ack, payload length)
  weft flows FILE… [--json] [--filter EXPR] [--policy P] [--host-policy NET=P]… [--idle SECONDS] [--max-connections N] [--threads N]
                                            one row (or JSON object) per TCP connection: endpoints,
                                            packets, bytes and sha256 per direction, gaps, close,
                                            anomalies; files are read in order as one capture;
                                            at most N connections open at once (default 150000:
                                            past it the least recently active closes, 'limit');
                                            --filter keeps the flows an expression matches (the
                                            app's filter language: port:80 or port:21, bytes > 1M,
                                            duration >= 2s, ip:10.0.0.0/8, not state:fin, ( ) …);
                                            --policy: which copy of overlapping bytes stands:
                                            first (default), last, or the target's: linux,
                                            old-linux, bsd, bsd-right, windows, vista, solaris,
                                            hpux10, hpux11, irix, macos; --host-policy gives the
                                            hosts of NET theirs (for the bytes they receive)
                                            a connection quiet for --idle S (default 600) is
                                            parked: its buffers go, and a packet continuing it
                                            resumes the same flow (quietSec); one parked for 3 h
                                            more ends as 'idle'; --threads N: engine threads
                                            (default one per core), each owning the connections
                                            of some address pairs; the output is the same for
                                            every N
  weft flows FILE… --follow N [--compare-policies]
                                            connection N's bytes as text, client and server turns
                                            marked (N from the table's # column); with
                                            --compare-policies, what every overlap policy makes of
                                            it: the outcomes and the ranges where they differ
  weft plugins [--json]                     protocol plugins with their BPF filters, ports and
                                            options
  weft messages FILE… [--plugin NAME] [--option PLUGIN.NAME=N]… [--json] [--max-connections N] [--threads N]
                                            one line per protocol message (HTTP, Redis, MySQL,
                                            MongoDB): flow, direction, time, byte range, summary;
                                            --threads as for flows (the same lines for every N)
  weft export FILE… --format F[,F…] --out DIR [--filter EXPR] [--flows N,…] [--max-connections N] [--threads N]
                                            flows as raw bytes per direction (tcpflow's names),
                                            transcript, pcap, pcapng (their original frames),
                                            jsonl (Zeek conn.log), csv, har; plus manifest.json;
                                            written whole or not at all
  weft devices [--json] [--via P]            capture devices (name, up / running, loopback,
                                            addresses)
  weft capture -i IFACE [-f BPF] [--duration S] [--count N] [--write F.pcapng]
               [--ring-size MB --ring-files N] [--snaplen N] [--no-promisc]
               [--via auto|dumpcap|libpcap] [--json] [--idle S] [--threads N]
                                            live capture: each flow printed as it completes,
                                            optionally saved to pcapng; in-process when Weft has
                                            the rights (root), else through dumpcap, which holds
                                            them (kernel timestamps and drop counts either way);
                                            --threads N engine threads (default 1)
  weft capture --stdin [...]                the same from a capture piped in (tcpdump -w - | …);
                                            --threads N defaults to one per core here
  weft sniff PLUGIN -i IFACE [-f BPF] [--duration S] [--count N] [--option …] [--json] [--threads N]
                                            live, one line per protocol message (go-sniffer
                                            style); the plugin's BPF filter unless -f is given
  weft selftest [--json]                    reassembles the real captures shipped with Weft and
                                            compares every direction with tshark's stored
                                            reassembly (exit 1 if one differs)
  weft serve [--port N] [--host H] [--max-connections N] [--out DIR] [FILE…]
                                            the app in a browser: prints a URL with a token
                                            (default 127.0.0.1:7878; POST /pcap {"path": …} queues
                                            a file); exports and saved captures only inside
                                            --out DIR (none without it)
  weft --help | --version

FILE is a pcap (microsecond or nanosecond, either byte order) or pcapng file; - is standard input.
Exit status: 0 success; 2 bad input (a one-line message names the file and byte offset;
a damaged file still reports every packet before the damage).
`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const out = new BufferedOut(io.stdout);
  const err = new BufferedOut(io.stderr);
  try {
    return await dispatch(argv, out, err);
  } catch (e) {
    if (e instanceof UsageError) {
      err.line(`weft: ${e.message}`);
      err.line(`Try 'weft --help'.`);
      return 2;
    }
    if (e instanceof SourceError) {
      err.line(`weft: ${e.message}`);
      return 2;
    }
    throw e;
  } finally {
    await out.flush();
    await err.flush();
  }
}

/** --max-connections N: open connections held at most (the least recently active closes with reason 'limit'). */
function maxConnectionsOf(v: string | undefined): number {
  if (v === undefined) return DEFAULT_ASSEMBLER_OPTIONS.maxConnections;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--max-connections needs a whole number of connections (1 or more), not '${v}'`);
  return n;
}

/** --threads N: engine threads (default: one per core). */
function threadsOf(v: string | undefined): number {
  if (v === undefined) return defaultThreads();
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS) throw new UsageError(`--threads needs a whole number of engine threads from 1 to ${MAX_THREADS}, not '${v}'`);
  return n;
}

/** A command's part of HELP (its usage lines and what follows them), or null for no such command. */
export function commandHelp(cmd: string): string | null {
  const lines = HELP.split('\n');
  const blocks: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith(`  weft ${cmd} `) && lines[i] !== `  weft ${cmd}`) continue;
    const block = [lines[i]];
    while (i + 1 < lines.length && /^ {3,}\S/.test(lines[i + 1]) && !lines[i + 1].startsWith('  weft ')) block.push(lines[++i]);
    blocks.push(block.join('\n'));
  }
  if (blocks.length === 0) return null;
  const footer = HELP.slice(HELP.indexOf('\nFILE is')).trim();
  return `Usage:\n${blocks.join('\n')}\n\n${footer}`;
}

async function dispatch(argv: string[], out: BufferedOut, err: BufferedOut): Promise<number> {
  const [cmd, ...rest] = argv;
  // every command has its own help: its usage and options, not an "unknown option" from the parser
  if (cmd !== undefined && (rest.includes('--help') || rest.includes('-h'))) {
    const h = commandHelp(cmd);
    if (h !== null) {
      out.line(h);
      return 0;
    }
  }
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    out.line(HELP.trimEnd());
    const dumpcap = findDumpcap();
    const live = liveCaptureStatus();
    out.line(`Live capture: ${dumpcap ? `through ${dumpcap}` : 'no dumpcap (sudo apt install wireshark-common)'}; in-process: ${live.available ? 'available (libpcap)' : `${live.reason.replace(/^in-process capture /, '')}.\n  Fix: ${live.fix}`}`);
    return 0;
  }
  if (cmd === '--version' || cmd === '-V') {
    out.line(VERSION);
    return 0;
  }
  switch (cmd) {
    case 'info': {
      const a = parse(rest, { json: { type: 'boolean' } });
      if (a.positionals.length === 0) throw new UsageError('info needs at least one FILE');
      const failures = await infoCommand(a.positionals, !!a.values.json, out, err);
      return failures ? 2 : 0;
    }
    case 'packets': {
      const a = parse(rest, { json: { type: 'boolean' }, limit: { type: 'string' } });
      if (a.positionals.length !== 1) throw new UsageError('packets needs exactly one FILE');
      let limit = Infinity;
      if (a.values.limit !== undefined) {
        limit = Number(a.values.limit);
        if (!Number.isInteger(limit) || limit < 0) throw new UsageError(`--limit needs a whole number, not '${a.values.limit}'`);
      }
      const failed = await packetsCommand(a.positionals[0], !!a.values.json, limit, out, err);
      return failed ? 2 : 0;
    }
    case 'flows': {
      const a = parseOrUsage(() =>
        parseArgs({
          args: rest,
          allowPositionals: true,
          strict: true,
          options: { json: { type: 'boolean' }, policy: { type: 'string' }, 'host-policy': { type: 'string', multiple: true }, idle: { type: 'string' }, follow: { type: 'string' }, 'compare-policies': { type: 'boolean' }, 'max-connections': { type: 'string' }, filter: { type: 'string' }, threads: { type: 'string' } },
        } as const),
      );
      if (a.positionals.length === 0) throw new UsageError('flows needs at least one FILE');
      const threads = threadsOf(a.values.threads as string | undefined);
      const maxConnections = maxConnectionsOf(a.values['max-connections'] as string | undefined);
      const policy = (a.values.policy ?? 'first') as OverlapPolicy;
      if (!(OVERLAP_POLICIES as readonly string[]).includes(policy)) throw new UsageError(`--policy is one of ${OVERLAP_POLICIES.join(', ')}, not '${policy}'`);
      const idle = a.values.idle === undefined ? 600 : Number(a.values.idle);
      if (!(idle > 0)) throw new UsageError(`--idle needs a positive number of seconds, not '${a.values.idle}'`);
      let follow: number | undefined;
      if (a.values.follow !== undefined) {
        follow = Number(a.values.follow);
        if (!Number.isInteger(follow) || follow < 1) throw new UsageError(`--follow needs a connection number (1, 2, …), not '${a.values.follow}'`);
      }
      const hostPolicySpecs = (a.values['host-policy'] ?? []) as string[];
      try {
        hostPolicies(hostPolicySpecs); // what the engine threads make of them: said here if wrong
      } catch (e) {
        throw new UsageError(`--host-policy: ${(e as Error).message}`);
      }
      if (a.values['compare-policies'] && follow === undefined) throw new UsageError('--compare-policies goes with --follow N: the connection to replay under every policy');
      const failures = await flowsCommand({ files: a.positionals, json: !!a.values.json, policy, idleSec: idle, follow, comparePolicies: !!a.values['compare-policies'], maxConnections, filter: a.values.filter as string | undefined, threads, hostPolicies: hostPolicySpecs }, out, err);
      return failures ? 2 : 0;
    }
    case 'selftest': {
      const a = parse(rest, { json: { type: 'boolean' } });
      if (a.positionals.length > 0) throw new UsageError('selftest takes no FILE: it reads the captures shipped with Weft');
      return selfTestCommand(!!a.values.json, out, err);
    }
    case 'plugins': {
      const a = parse(rest, { json: { type: 'boolean' } });
      return pluginsCommand(!!a.values.json, out);
    }
    case 'messages': {
      const a = parseOrUsage(() =>
        parseArgs({ args: rest, allowPositionals: true, strict: true, options: { json: { type: 'boolean' }, plugin: { type: 'string' }, option: { type: 'string', multiple: true }, 'max-connections': { type: 'string' }, threads: { type: 'string' } } } as const),
      );
      if (a.positionals.length === 0) throw new UsageError('messages needs at least one FILE');
      const failed = await messagesCommand(a.positionals, a.values.plugin, a.values.option ?? [], !!a.values.json, out, err, maxConnectionsOf(a.values['max-connections']), threadsOf(a.values.threads));
      return failed ? 2 : 0;
    }
    case 'export': {
      const a = parse(rest, { format: { type: 'string' }, out: { type: 'string' }, filter: { type: 'string' }, flows: { type: 'string' }, 'max-connections': { type: 'string' }, threads: { type: 'string' } });
      if (a.positionals.length === 0) throw new UsageError('export needs at least one FILE');
      if (!a.values.format) throw new UsageError('export needs --format (raw, transcript, pcap, pcapng, jsonl, csv, har; several with commas)');
      if (!a.values.out) throw new UsageError('export needs --out DIR');
      const v = a.values as Record<string, string | undefined>;
      return exportCommand({ files: a.positionals, formats: v.format!, out: v.out!, filter: v.filter, flows: v.flows, version: VERSION, maxConnections: maxConnectionsOf(v['max-connections']), threads: threadsOf(v.threads) }, out, err);
    }
    case 'devices': {
      const a = parse(rest, { json: { type: 'boolean' }, via: { type: 'string' } });
      return devicesCommand(!!a.values.json, out, err, a.values.via as string | undefined);
    }
    case 'capture': {
      const a = parseOrUsage(() => parseArgs({
        args: rest,
        allowPositionals: false,
        strict: true,
        options: {
          ...LIVE_OPTIONS,
          write: { type: 'string', short: 'w' },
          'ring-size': { type: 'string' },
          'ring-files': { type: 'string' },
          snaplen: { type: 'string' },
          stdin: { type: 'boolean' },
          threads: { type: 'string' },
        },
      } as const));
      const v = a.values;
      if (!v.stdin && !v.interface) throw new UsageError('capture needs -i INTERFACE (see weft devices) or --stdin');
      if (v.stdin && v.interface) throw new UsageError('capture takes -i INTERFACE or --stdin, not both');
      return captureCommand(
        {
          device: v.interface,
          stdin: !!v.stdin,
          filter: v.filter,
          durationSec: positive('duration', v.duration),
          count: positive('count', v.count, 1),
          write: v.write,
          ringBytes: v['ring-size'] === undefined ? undefined : positive('ring-size', v['ring-size'], 1)! * 1e6,
          ringFiles: positive('ring-files', v['ring-files'], 1),
          snaplen: positive('snaplen', v.snaplen, 1),
          promiscuous: !v['no-promisc'],
          via: v.via,
          json: !!v.json,
          idleSec: positive('idle', v.idle, 1) ?? 600,
          // live: one thread (live rates are far below one thread's); a pipe may come as fast as a file: one per core
          threads: v.threads === undefined && !v.stdin ? 1 : threadsOf(v.threads as string | undefined),
        },
        out,
        err,
      );
    }
    case 'sniff': {
      const a = parseOrUsage(() => parseArgs({
        args: rest,
        allowPositionals: true,
        strict: true,
        options: { ...LIVE_OPTIONS, option: { type: 'string', multiple: true }, threads: { type: 'string' } },
      } as const));
      const v = a.values;
      if (a.positionals.length !== 1) throw new UsageError('sniff needs one PLUGIN (weft plugins lists them)');
      if (!v.interface) throw new UsageError('sniff needs -i INTERFACE (see weft devices)');
      return sniffCommand(
        {
          plugin: a.positionals[0],
          device: v.interface,
          filter: v.filter,
          durationSec: positive('duration', v.duration, 0),
          count: positive('count', v.count, 1),
          json: !!v.json,
          idleSec: positive('idle', v.idle, 1) ?? 600,
          options: v.option ?? [],
          threads: v.threads === undefined ? 1 : threadsOf(v.threads),
          via: v.via,
          promiscuous: !v['no-promisc'],
        },
        out,
        err,
      );
    }
    case 'serve': {
      const a = parse(rest, { port: { type: 'string' }, host: { type: 'string' }, 'max-connections': { type: 'string' }, out: { type: 'string' } });
      const port = a.values.port === undefined ? 7878 : Number(a.values.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port needs a port number, not '${a.values.port}'`);
      const maxConnections = maxConnectionsOf(a.values['max-connections'] as string | undefined);
      return serveCommand({ port, host: String(a.values.host ?? '127.0.0.1'), files: a.positionals, maxConnections, outputRoot: a.values.out as string | undefined }, out, err);
    }
    default:
      throw new UsageError(`unknown command '${cmd}'`);
  }
}

/** What `weft capture` and `weft sniff` both take. */
const LIVE_OPTIONS = {
  interface: { type: 'string', short: 'i' },
  filter: { type: 'string', short: 'f' },
  duration: { type: 'string' },
  count: { type: 'string' },
  json: { type: 'boolean' },
  idle: { type: 'string' },
  via: { type: 'string' },
  'no-promisc': { type: 'boolean', short: 'p' },
} as const;

/** An option's number, at least `min`; undefined when the option was not given. */
function positive(name: string, x: string | undefined, min = 0): number | undefined {
  if (x === undefined) return undefined;
  const n = Number(x);
  if (!(n >= min) || !Number.isFinite(n)) throw new UsageError(`--${name} needs a number ≥ ${min}, not '${x}'`);
  return n;
}

function parseOrUsage<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

type Opts = Record<string, { type: 'boolean' | 'string' }>;
function parse(args: string[], options: Opts) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
