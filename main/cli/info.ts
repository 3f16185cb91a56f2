import { summarizeCapture, type CaptureSummary } from '../service/pipeline/capture-summary';
import { BufferedOut } from './io';
import { formatTime, humanBytes, isoTime } from './format';

/** `weft info FILE… [--json]`. Returns the number of files with an error. */
export async function infoCommand(files: string[], json: boolean, out: BufferedOut, err: BufferedOut): Promise<number> {
  let failures = 0;
  for (const f of files) {
    const s = await summarizeCapture(f);
    if (json) out.line(JSON.stringify(s));
    else printSummary(s, out);
    if (s.error) {
      failures++;
      err.line(`weft: ${s.error.message}`);
    }
    await out.flush();
  }
  return failures;
}

function printSummary(s: CaptureSummary, out: BufferedOut): void {
  out.line(`${s.file}`);
  out.line(`  format         ${s.format ?? 'unknown'}${s.format === 'pcapng' ? ` (${s.sections} section${s.sections === 1 ? '' : 's'})` : ''}`);
  out.line(`  file size      ${s.fileBytes} bytes (${humanBytes(s.fileBytes)})`);
  const links = Object.entries(s.linkTypes)
    .map(([k, v]) => `${k} (${v})`)
    .join(', ');
  out.line(`  link types     ${links || (s.interfaces.map((i) => i.link).join(', ') || '-')}`);
  if (s.interfaces.length > 1) out.line(`  interfaces     ${s.interfaces.length}`);
  out.line(`  packets        ${s.packets} (TCP ${s.tcpPackets}, UDP ${s.udpPackets}, other IP ${s.otherIpPackets})`);
  out.line(`  bytes          ${s.capturedBytes} captured, ${s.wireBytes} on the wire`);
  if (s.firstTime && s.lastTime) {
    out.line(`  first packet   ${isoTime(s.firstTime.sec, s.firstTime.nsec)} (${formatTime(s.firstTime.sec, s.firstTime.nsec)})`);
    out.line(`  last packet    ${isoTime(s.lastTime.sec, s.lastTime.nsec)} (${formatTime(s.lastTime.sec, s.lastTime.nsec)})`);
    const dur = s.lastTime.sec - s.firstTime.sec + (s.lastTime.nsec - s.firstTime.nsec) / 1e9;
    out.line(`  duration       ${dur.toFixed(6)} s`);
  }
  const an = Object.entries(s.anomalies);
  if (an.length === 0) out.line(`  anomalies      none`);
  else {
    out.line(`  anomalies`);
    for (const [k, v] of an.sort()) out.line(`    ${k.padEnd(26)} ${v}`);
  }
  if (s.error) out.line(`  error          ${s.error.kind} at byte offset ${s.error.offset}: every packet before it was read`);
}
