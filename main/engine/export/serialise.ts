/**
 * Export serialisers: pure functions from flows to the text of export formats (no Node, no files:
 * the service layer writes what these return). tcpflow's file names, Zeek conn.log-shaped records,
 * the flows table as CSV, and transcript text.
 */

import { endpointHost, endpointPort } from '../decode/addr';
import type { Flow, UdpFlow } from '../flows';

/** What the serialisers read of a flow (the one flow model's record, main/engine/flows). */
export type FlowSummary = Pick<Flow, 'id' | 'client' | 'server' | 'firstSeen' | 'lastSeen' | 'packets' | 'bytes' | 'sha256' | 'gaps' | 'close' | 'anomalies' | 'protocol' | 'history' | 'connState'>;

/** tcpflow's file name for one direction: 010.000.000.001.01234-010.000.000.002.00080[--VLAN][cN]. */
export function tcpflowName(src: string, dst: string, vlan: number | null, count: number): string {
  const part = (endpoint: string) => {
    const host = endpointHost(endpoint);
    const h = host.includes(':') ? host : host.split('.').map((o) => o.padStart(3, '0')).join('.');
    return `${h}.${String(endpointPort(endpoint)).padStart(5, '0')}`;
  };
  return `${part(src)}-${part(dst)}${vlan !== null ? `--${vlan}` : ''}${count > 0 ? `c${count}` : ''}`;
}


/** What a conn.log record reads of a TCP connection or a UDP conversation. */
type ConnFields = Pick<FlowSummary, 'id' | 'client' | 'server' | 'firstSeen' | 'lastSeen' | 'packets' | 'bytes' | 'protocol'> & { close: string };

/** The record, in Zeek's field order, given what differs between TCP and UDP. */
function conn(r: ConnFields, proto: 'tcp' | 'udp', state: { conn_state: string; missed_bytes: number; history: string }, cid: string, uid: string): Record<string, unknown> {
  return {
    ts: r.firstSeen,
    uid,
    'id.orig_h': endpointHost(r.client),
    'id.orig_p': endpointPort(r.client),
    'id.resp_h': endpointHost(r.server),
    'id.resp_p': endpointPort(r.server),
    proto,
    ...(r.protocol ? { service: r.protocol } : {}),
    duration: +(r.lastSeen - r.firstSeen).toFixed(6),
    orig_bytes: r.bytes.c2s,
    resp_bytes: r.bytes.s2c,
    ...state,
    orig_pkts: r.packets.c2s,
    resp_pkts: r.packets.s2c,
    community_id: cid,
    weft_id: r.id,
    weft_close: r.close,
  };
}

/** A conn.log-shaped record (Zeek's field names); `cid` is its Community ID, `uid` its conn.log uid. */
export function connRecord(r: FlowSummary, cid: string, uid: string): Record<string, unknown> {
  return conn(r, 'tcp', { conn_state: r.connState, missed_bytes: r.gaps.c2s + r.gaps.s2c, history: r.history }, cid, uid);
}

/**
 * A UDP conversation as a conn.log record, as Zeek writes one: `proto` udp, `conn_state` S0 when
 * only the originator sent, SHR when only the responder did, SF when both; history `D` / `d` for
 * the directions that carried datagrams.
 */
export function udpConnRecord(u: UdpFlow, cid: string, uid: string): Record<string, unknown> {
  const c2s = u.packets.c2s > 0;
  const s2c = u.packets.s2c > 0;
  return conn(u, 'udp', { conn_state: c2s && s2c ? 'SF' : c2s ? 'S0' : 'SHR', missed_bytes: 0, history: `${c2s ? 'D' : ''}${s2c ? 'd' : ''}` }, cid, uid);
}

export const CSV_COLUMNS = ['id', 'client', 'server', 'protocol', 'packets_c2s', 'packets_s2c', 'bytes_c2s', 'bytes_s2c', 'first_seen', 'last_seen', 'duration', 'close', 'gaps_c2s', 'gaps_s2c', 'anomalies', 'sha256_c2s', 'sha256_s2c'];

export function csvRow(r: FlowSummary): string {
  const anomalies = Object.entries(r.anomalies)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return csvCells(rowCells(r, r.protocol ?? '', r.close, r.gaps, anomalies));
}

/** A UDP conversation as a row of the same CSV: no gaps or anomalies, its close as `udp idle` and the like. */
export function udpCsvRow(u: UdpFlow): string {
  return csvCells(rowCells(u, u.protocol ?? 'udp', `udp ${u.close}`, { c2s: 0, s2c: 0 }, ''));
}

/** The CSV's cells in CSV_COLUMNS' order. */
function rowCells(r: Omit<ConnFields, 'close'> & Pick<FlowSummary, 'sha256'>, protocol: string, close: string, gaps: { c2s: number; s2c: number }, anomalies: string): (string | number)[] {
  return [
    r.id,
    r.client,
    r.server,
    protocol,
    r.packets.c2s,
    r.packets.s2c,
    r.bytes.c2s,
    r.bytes.s2c,
    new Date(r.firstSeen * 1000).toISOString(),
    new Date(r.lastSeen * 1000).toISOString(),
    (r.lastSeen - r.firstSeen).toFixed(6),
    close,
    gaps.c2s,
    gaps.s2c,
    anomalies,
    r.sha256.c2s,
    r.sha256.s2c,
  ];
}

function csvCells(cells: (string | number)[]): string {
  return cells.map((c) => (/[",\r\n]/.test(String(c)) ? `"${String(c).replace(/"/g, '""')}"` : String(c))).join(',') + '\r\n';
}

/** Bytes as transcript text: printable ones as they are, CR written as a backslash and r, the others as a backslash, x and two hex digits. */
export function escapeText(b: Uint8Array): string {
  let s = '';
  for (const c of b) s += c === 10 || c === 9 || (c >= 32 && c < 127) ? String.fromCharCode(c) : c === 13 ? '\\r' : `\\x${c.toString(16).padStart(2, '0')}`;
  return s;
}

