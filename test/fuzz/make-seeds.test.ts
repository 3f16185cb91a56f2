/**
 * Writes the fuzz campaign's protocol seeds into test/fixtures/fuzz/<plugin>/: each direction of
 * each connection the plugin names in the real captures, as reassembled (first 16 KiB). Run by
 * hand when the fixtures change: WEFT_MAKE_SEEDS=1 npx vitest run test/fuzz/make-seeds.test.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PLUGINS } from '../../main/engine/protocols';
import { parsePluginCapture } from '../helpers/feed-parser';
import { captureFiles, REAL } from '../helpers/fixtures';

const SEEDS = join(__dirname, '..', 'fixtures', 'fuzz');
const FILES: Record<string, string[]> = {
  http: ['zeek-http-cooper-grill-dvwa.pcapng', 'zeek-http-get.pcap', 'suri-http-evader-017.pcap'],
  redis: captureFiles(REAL).filter((f) => f.includes('redis')),
  mysql: captureFiles(REAL).filter((f) => f.includes('mysql')),
  mongodb: captureFiles(REAL).filter((f) => f.includes('mongo')),
};

describe.runIf(process.env.WEFT_MAKE_SEEDS === '1')('fuzz seeds', () => {
  it('are written from the real captures', () => {
    const lines: string[] = [];
    for (const p of PLUGINS) {
      const dir = join(SEEDS, p.name);
      mkdirSync(dir, { recursive: true });
      let n = 0;
      for (const f of FILES[p.name])
        for (const [c2s, s2c] of parsePluginCapture(p, join(REAL, f)).streams)
          for (const [d, b] of [['c2s', c2s], ['s2c', s2c]] as const) {
            if (b.length === 0 || n >= 24) continue;
            const name = `${String(++n).padStart(2, '0')}-${d}.bin`;
            writeFileSync(join(dir, name), b.subarray(0, 16384));
            lines.push(`| ${p.name}/${name} | ${f} | ${d}, first ${Math.min(b.length, 16384)} bytes |`);
          }
      expect(n).toBeGreaterThan(1);
    }
    writeFileSync(
      join(SEEDS, 'SOURCES.md'),
      `# Fuzz seeds\n\nThe protocol seeds of \`npm run test:fuzz\` (test/fuzz/campaign.test.ts): directions of connections\nin \`test/fixtures/real/\` (see its SOURCES.md), reassembled by Weft, written by test/fuzz/make-seeds.test.ts.\nThe capture seeds are the real captures themselves.\n\n| seed | from | what |\n| --- | --- | --- |\n${lines.join('\n')}\n`,
    );
  });
});
