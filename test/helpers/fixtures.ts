import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const FIXTURES = join(__dirname, '..', 'fixtures');
export const REAL = join(FIXTURES, 'real');
export const MALFORMED = join(FIXTURES, 'malformed');
export const COVERAGE = join(FIXTURES, 'coverage');
export const SYNTHETIC = join(FIXTURES, 'synthetic');

export function captureFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /\.(pcap|pcapng)$/.test(f))
    .sort();
}

export function readFixture(dir: string, name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(dir, name)));
}

export interface ExpectedConnection {
  client: string;
  server: string;
  first_ts: string;
  packets: number;
  bytes_c2s: number;
  bytes_s2c: number;
  sha256_c2s: string;
  sha256_s2c: string;
}
export interface ExpectedFile {
  connections: ExpectedConnection[];
  format: string;
  encapsulation: string;
  packets_total: string;
}

/** A fixture folder's EXPECTED.json (tshark's reassembly per connection and direction). */
export function expectedIn(dir: string): Record<string, ExpectedFile> {
  return JSON.parse(readFileSync(join(dir, 'EXPECTED.json'), 'utf8'));
}

export function expectedReal(): Record<string, ExpectedFile> {
  return expectedIn(REAL);
}
