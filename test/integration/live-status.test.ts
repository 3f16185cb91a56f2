import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canCaptureHere, resolveVia } from '../../main/sources/live';
import { addonPath, liveCaptureStatus, loadPcapBinding } from '../../main/sources/live-status';

describe('in-process live capture availability', () => {
  it('is available here (libpcap-dev is installed and the binding built): libpcap answers', () => {
    expect(liveCaptureStatus()).toEqual({ available: true, reason: '', fix: '' });
    expect(loadPcapBinding().libVersion()).toMatch(/^libpcap version \d+\.\d+/);
    expect(loadPcapBinding().devices().map((d) => d.name)).toContain('lo');
  });

  it('explains a binding that was not built and how to fix it', () => {
    // a machine where `npm install` found no libpcap headers: the addon is missing
    const s = liveCaptureStatus(() => loadPcapBinding('/nonexistent/weft_pcap.node'));
    expect(s.available).toBe(false);
    expect(s.reason).toBe('in-process capture unavailable: the libpcap binding was not built (libpcap not found when installing)');
    expect(s.fix).toMatch(/libpcap-dev.*npm run build:native.*wireshark-common/);
  });

  it('is looked for outside app.asar in the packaged app', () => {
    expect(addonPath({ WEFT_PCAP_ADDON: '/x/y.node' })).toBe('/x/y.node');
    expect(addonPath({})).toMatch(/native\/weft-pcap\/build\/Release\/weft_pcap\.node$/);
    // the engine bundle inside the package: app.asar/out/cli
    expect(addonPath({}, '/opt/Weft/resources/app.asar/out/cli')).toBe('/opt/Weft/resources/app.asar.unpacked/native/weft-pcap/build/Release/weft_pcap.node');
  });
});

describe('which way auto captures', () => {
  it('in-process when this process holds CAP_NET_RAW (root here), else through dumpcap', () => {
    const dir = mkdtempSync(join(tmpdir(), 'weft-caps-'));
    try {
      const status = (capEff: string) => {
        const f = join(dir, `status-${capEff}`);
        writeFileSync(f, `Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t${capEff}\nCapBnd:\t000001ffffffffff\n`);
        return f;
      };
      expect(canCaptureHere(status('000001ffffffffff'))).toBe(true); // root
      expect(canCaptureHere(status('0000000000002000'))).toBe(true); // CAP_NET_RAW alone
      expect(canCaptureHere(status('0000000000001000'))).toBe(false); // CAP_NET_ADMIN alone
      expect(canCaptureHere(status('0000000000000000'))).toBe(false); // a user
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(process.getuid?.()).toBe(0);
    expect(canCaptureHere()).toBe(true);
    expect(resolveVia('auto')).toBe('libpcap');
    expect(resolveVia('dumpcap')).toBe('dumpcap');
  });
});
