import { describe, expect, it } from 'vitest';
import { liveCaptureStatus } from '../../main/sources/live-status';

describe('live capture availability', () => {
  it('is available here (libpcap-dev is installed and cap built)', () => {
    expect(liveCaptureStatus()).toEqual({ available: true, reason: '', fix: '' });
  });

  it('explains a missing cap build and how to fix it', () => {
    // The loader stands for a machine where `npm install` skipped the optional cap build.
    const s = liveCaptureStatus((id) => require(`./no-such-module-${id}`));
    expect(s.available).toBe(false);
    expect(s.reason).toBe('live capture unavailable: libpcap not found (the cap module was not built)');
    expect(s.fix).toMatch(/libpcap-dev.*npm rebuild cap/);
  });
});
