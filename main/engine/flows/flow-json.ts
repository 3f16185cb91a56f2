/**
 * A completed flow as one line of JSON — exactly what JSON.stringify(flowOf(f)) writes (a test
 * holds the two equal on every real capture and on generated ones) — made straight from the
 * accumulator and its connection, without the Flow object and its dozen nested objects.
 * `weft flows --json` prints one line per connection, and on captures of many small connections
 * building and walking those records was a large part of the run.
 *
 * Everything in a flow's JSON is ASCII Weft wrote itself (endpoints, hex digests, close reasons,
 * anomaly names, Zeek's letters and states, plugin names): no text from the capture, so those
 * strings go between quotes as they are, and the line can be written out byte for byte.
 */
import { STREAM_ANOMALY_NAMES, type HalfConnectionState } from '../reassembly';
import type { FlowAccumulator } from './flow';

/** One direction's anomaly counters as an object, in name order. */
function counters(h: HalfConnectionState): string {
  const c = h.counts;
  if (c === null) return '{}';
  let s = '';
  for (let i = 0; i < c.length; i++) if (c[i] !== 0) s += `${s === '' ? '' : ','}"${STREAM_ANOMALY_NAMES[i]}":${c[i]}`;
  return `{${s}}`;
}

/** Both directions added up, in the order flowOf builds them: the client's kinds, then the server's others. */
function sum(h0: HalfConnectionState, h1: HalfConnectionState): string {
  const a = h0.counts;
  const b = h1.counts;
  if (b === null) return counters(h0);
  if (a === null) return counters(h1);
  let s = '';
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) s += `${s === '' ? '' : ','}"${STREAM_ANOMALY_NAMES[i]}":${a[i] + b[i]}`;
  for (let i = 0; i < b.length; i++) if (a[i] === 0 && b[i] !== 0) s += `${s === '' ? '' : ','}"${STREAM_ANOMALY_NAMES[i]}":${b[i]}`;
  return `{${s}}`;
}

function time(t: number): string {
  return Number.isFinite(t) ? String(t) : 'null';
}

/** The flow's JSON (no newline). The flow must be complete. */
export function flowJson(f: FlowAccumulator): string {
  const c = f.conn;
  const [h0, h1] = c.halves;
  const g0 = h0.gaps.length === 0 ? '[]' : JSON.stringify(h0.gaps);
  const g1 = h1.gaps.length === 0 ? '[]' : JSON.stringify(h1.gaps);
  return (
    `{"id":${c.id},"proto":"tcp","client":"${c.client}","server":"${c.server}",` +
    `"firstSeen":${time(c.firstSec + c.firstNsec / 1e9)},"lastSeen":${time(c.lastSec + c.lastNsec / 1e9)},` +
    `"packets":{"c2s":${h0.packets},"s2c":${h1.packets}},"bytes":{"c2s":${h0.delivered},"s2c":${h1.delivered}},` +
    `"sha256":{"c2s":"${f.digest(0)}","s2c":"${f.digest(1)}"},"gaps":{"c2s":${h0.gapBytes},"s2c":${h1.gapBytes}},` +
    `"close":"${f.close}","directionInferred":${c.directionInferred},"anomalies":${sum(h0, h1)},` +
    `"anomaliesByDirection":{"c2s":${counters(h0)},"s2c":${counters(h1)}},"gapList":{"c2s":${g0},"s2c":${g1}},` +
    `"conflicts":${h0.conflicts.length + h1.conflicts.length},"protocol":${f.protocol === null ? 'null' : JSON.stringify(f.protocol)},` +
    `"ipVersion":${c.ipVersion},"vlan":${c.vlan >= 0 ? c.vlan : 'null'},"history":"${f.flags.history}","connState":"${f.flags.state()}"}`
  );
}
