/**
 * A completed flow as one line of JSON — exactly what JSON.stringify(flowOf(f)) writes (a test
 * holds the two equal on every real capture and on generated ones) — made from plain fields
 * (FlowJsonInput) rather than the Flow object and its dozen nested objects. `weft flows --json`
 * prints one line per connection; on captures of many small connections building and walking
 * those records was a large part of the run. The fields come from an accumulator (jsonInput).
 *
 * Everything in a flow's JSON is ASCII Weft wrote itself (endpoints, hex digests, close reasons,
 * anomaly names, Zeek's letters and states, plugin names): no text from the capture, so those
 * strings go between quotes as they are, and the line can be written out byte for byte.
 */
import { STREAM_ANOMALY_NAMES } from '../reassembly';
import type { FlowAccumulator } from './flow';

export interface FlowJsonInput {
  id: number;
  client: string;
  server: string;
  firstSeen: number;
  lastSeen: number;
  packets0: number;
  packets1: number;
  bytes0: number;
  bytes1: number;
  sha0: string;
  sha1: string;
  gaps0: number;
  gaps1: number;
  close: string;
  quietSec: number;
  inferred: boolean;
  /** Anomaly counters by STREAM_ANOMALY_NAMES index, per direction, or null (none). */
  counts0: ArrayLike<number> | null;
  counts1: ArrayLike<number> | null;
  /** The gap lists as JSON ('[]' when empty). */
  gapList0: string;
  gapList1: string;
  conflicts: number;
  protocol: string | null;
  ipVersion: number;
  vlan: number | null;
  history: string;
  connState: string;
}

const NAMES = STREAM_ANOMALY_NAMES.map((n) => `"${n}":`);

/** One direction's anomaly counters as an object, in name order. */
function counters(c: ArrayLike<number> | null): string {
  if (c === null) return '{}';
  let s = '';
  for (let i = 0; i < c.length; i++) if (c[i] !== 0) s += `${s === '' ? '' : ','}${NAMES[i]}${c[i]}`;
  return `{${s}}`;
}

/** Both directions added up, in the order flowOf builds them: the client's kinds, then the server's others. */
function sum(a: ArrayLike<number> | null, b: ArrayLike<number> | null): string {
  if (b === null) return counters(a);
  if (a === null) return counters(b);
  let s = '';
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) s += `${s === '' ? '' : ','}${NAMES[i]}${a[i] + b[i]}`;
  for (let i = 0; i < b.length; i++) if (a[i] === 0 && b[i] !== 0) s += `${s === '' ? '' : ','}${NAMES[i]}${b[i]}`;
  return `{${s}}`;
}

function time(t: number): string {
  return Number.isFinite(t) ? String(t) : 'null';
}

/** The flow's JSON (no newline). */
export function flowJson(f: FlowJsonInput): string {
  return (
    `{"id":${f.id},"proto":"tcp","client":"${f.client}","server":"${f.server}",` +
    `"firstSeen":${time(f.firstSeen)},"lastSeen":${time(f.lastSeen)},` +
    `"packets":{"c2s":${f.packets0},"s2c":${f.packets1}},"bytes":{"c2s":${f.bytes0},"s2c":${f.bytes1}},` +
    `"sha256":{"c2s":"${f.sha0}","s2c":"${f.sha1}"},"gaps":{"c2s":${f.gaps0},"s2c":${f.gaps1}},` +
    `"close":"${f.close}","quietSec":${f.quietSec},"directionInferred":${f.inferred},"anomalies":${sum(f.counts0, f.counts1)},` +
    `"anomaliesByDirection":{"c2s":${counters(f.counts0)},"s2c":${counters(f.counts1)}},"gapList":{"c2s":${f.gapList0},"s2c":${f.gapList1}},` +
    `"conflicts":${f.conflicts},"protocol":${f.protocol === null ? 'null' : JSON.stringify(f.protocol)},` +
    `"ipVersion":${f.ipVersion},"vlan":${f.vlan === null ? 'null' : f.vlan},"history":"${f.history}","connState":"${f.connState}"}`
  );
}

/** The JSON fields of a completed accumulator. */
export function jsonInput(a: FlowAccumulator): FlowJsonInput {
  const c = a.conn;
  const [h0, h1] = c.halves;
  return {
    id: c.id,
    client: c.client,
    server: c.server,
    firstSeen: c.firstSec + c.firstNsec / 1e9,
    lastSeen: c.lastSec + c.lastNsec / 1e9,
    packets0: h0.packets + a.lateC2s,
    packets1: h1.packets + a.lateS2c,
    bytes0: h0.delivered,
    bytes1: h1.delivered,
    sha0: a.digest(0),
    sha1: a.digest(1),
    gaps0: h0.gapBytes,
    gaps1: h1.gapBytes,
    close: a.close!,
    quietSec: Math.max(h0.longestQuietSec, h1.longestQuietSec),
    inferred: c.directionInferred,
    counts0: h0.counts,
    counts1: h1.counts,
    gapList0: h0.gaps.length === 0 ? '[]' : JSON.stringify(h0.gaps),
    gapList1: h1.gaps.length === 0 ? '[]' : JSON.stringify(h1.gaps),
    conflicts: h0.conflicts.length + h1.conflicts.length,
    protocol: a.protocol,
    ipVersion: c.ipVersion,
    vlan: c.vlan >= 0 ? c.vlan : null,
    history: a.history,
    connState: a.state(),
  };
}
