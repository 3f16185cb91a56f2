/**
 * The flows table's filter and sort. A filter is words separated by spaces, all of which must
 * hold:
 *   has:gap  has:conflict  has:inferred  has:<anomaly>   (has:retransmission, has:out-of-order, …)
 *   state:open|closed|fin|rst|idle|end-of-input|limit
 *   port:80   ip:10.0.0.1   proto:http   (proto:none for unknown)
 *   any other word: part of the client or server text (address or port)
 * A word may start with '!' to negate it.
 */
import { endpointHost, endpointPort } from '../../engine/decode/addr';
import type { Flow } from '../../engine/flows';
import type { FlowQuery, FlowState } from '../../ipc/contract';

/**
 * What a filter reads of a flow: the app's flow table answers it from its columns through one
 * reused cursor (no object per row), the export from a Flow.
 */
export interface FlowFacts {
  readonly client: string;
  readonly server: string;
  readonly protocol: string | null;
  readonly state: FlowState;
  readonly directionInferred: boolean;
  /** Gap bytes, both directions. */
  readonly gapBytes: number;
  readonly conflicts: number;
  /** Count of anomaly `name`, both directions. */
  anomaly(name: string): number;
}

/** A Flow (weft flows, export) read as FlowFacts. */
export function flowFacts(f: Flow): FlowFacts {
  return {
    client: f.client,
    server: f.server,
    protocol: f.protocol,
    state: f.close,
    directionInferred: f.directionInferred,
    gapBytes: f.gaps.c2s + f.gaps.s2c,
    conflicts: f.conflicts,
    anomaly: (n) => f.anomalies[n] ?? 0,
  };
}

export type FlowPredicate = (f: FlowFacts) => boolean;
type Pred = FlowPredicate;


function term(word: string): Pred {
  const i = word.indexOf(':');
  const key = i > 0 ? word.slice(0, i).toLowerCase() : '';
  const val = i > 0 ? word.slice(i + 1) : word;
  if (i > 0 && !['has', 'state', 'port', 'ip', 'proto'].includes(key)) {
    // an IPv6 address or host:port is text, not a key
    if (!/^[0-9a-f]*$/i.test(key)) throw new Error(`unknown filter '${key}:' (use has:, state:, port:, ip:, proto: or plain text)`);
    return textTerm(word);
  }
  switch (key) {
    case 'has':
      if (val === 'gap') return (r) => r.gapBytes > 0;
      if (val === 'conflict') return (r) => r.conflicts > 0 || r.anomaly('conflicting-overlap') > 0;
      if (val === 'inferred') return (r) => r.directionInferred;
      return (r) => r.anomaly(val) > 0;
    case 'state':
      if (val === 'closed') return (r) => r.state !== 'open';
      return (r) => r.state === val;
    case 'port': {
      const p = Number(val);
      if (!Number.isInteger(p)) throw new Error(`port: needs a number, not '${val}'`);
      return (r) => endpointPort(r.client) === p || endpointPort(r.server) === p;
    }
    case 'ip':
      return (r) => endpointHost(r.client) === val || endpointHost(r.server) === val;
    case 'proto':
      return (r) => (val === 'none' ? r.protocol === null : r.protocol === val);
    default:
      return textTerm(val);
  }
}

function textTerm(t: string): Pred {
  const s = t.toLowerCase();
  return (r) => r.client.toLowerCase().includes(s) || r.server.toLowerCase().includes(s);
}

/** Compiles a filter expression; throws an Error with a message for people on bad input. */
export function compileFilter(expr: string): FlowPredicate {
  const words = expr.trim().split(/\s+/).filter(Boolean);
  const preds = words.map((w) => {
    if (w.startsWith('!') && w.length > 1) {
      const p = term(w.slice(1));
      return (r: FlowFacts) => !p(r);
    }
    return term(w);
  });
  return (r) => preds.every((p) => p(r));
}

/** Close states in the order the state column sorts them. */
export const STATE_ORDER: readonly FlowState[] = ['open', 'fin', 'rst', 'idle', 'end-of-input', 'limit'];

export type SortKey = NonNullable<FlowQuery['sort']>['key'];
