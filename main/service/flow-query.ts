/**
 * The flows table's filter and sort. A filter is words separated by spaces, all of which must
 * hold:
 *   has:gap  has:conflict  has:inferred  has:<anomaly>   (has:retransmission, has:out-of-order, …)
 *   state:open|closed|fin|rst|idle|end-of-input|limit
 *   port:80   ip:10.0.0.1   proto:http   (proto:none for unknown)
 *   any other word: part of the client or server text (address or port)
 * A word may start with '!' to negate it.
 */
import { endpointHost, endpointPort } from '../engine/decode/addr';
import type { FlowRow, FlowQuery } from '../ipc/contract';

type Pred = (r: FlowRow) => boolean;


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
      if (val === 'gap') return (r) => r.gaps.c2s + r.gaps.s2c > 0;
      if (val === 'conflict') return (r) => r.conflicts > 0 || (r.anomalies['conflicting-overlap'] ?? 0) > 0;
      if (val === 'inferred') return (r) => r.directionInferred;
      return (r) => (r.anomalies[val] ?? 0) > 0;
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
export function compileFilter(expr: string): Pred {
  const words = expr.trim().split(/\s+/).filter(Boolean);
  const preds = words.map((w) => {
    if (w.startsWith('!') && w.length > 1) {
      const p = term(w.slice(1));
      return (r: FlowRow) => !p(r);
    }
    return term(w);
  });
  return (r) => preds.every((p) => p(r));
}

const STATE_ORDER = ['open', 'fin', 'rst', 'idle', 'end-of-input', 'limit'];

function keyOf(r: FlowRow, key: NonNullable<FlowQuery['sort']>['key']): number | string {
  switch (key) {
    case 'id':
      return r.id;
    case 'client':
      return r.client;
    case 'server':
      return r.server;
    case 'protocol':
      return r.protocol ?? '~'; // unknown after every name
    case 'packets':
      return r.packets.c2s + r.packets.s2c;
    case 'bytesC2s':
      return r.bytes.c2s;
    case 'bytesS2c':
      return r.bytes.s2c;
    case 'duration':
      return r.lastSeen - r.firstSeen;
    case 'state':
      return STATE_ORDER.indexOf(r.state);
    case 'firstSeen':
      return r.firstSeen;
    case 'gaps':
      return r.gaps.c2s + r.gaps.s2c;
  }
}

/** Sorts by the key, ties by id (stable across updates). */
export function sortRows(rows: FlowRow[], sort: NonNullable<FlowQuery['sort']>): FlowRow[] {
  const sign = sort.dir === 'asc' ? 1 : -1;
  return rows.sort((a, b) => {
    const x = keyOf(a, sort.key);
    const y = keyOf(b, sort.key);
    if (x < y) return -sign;
    if (x > y) return sign;
    return a.id - b.id;
  });
}
