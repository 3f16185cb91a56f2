/** The contract's runtime guards: what each channel accepts and refuses. */
import { describe, expect, it } from 'vitest';
import { CHANNELS, guards } from '../../main/ipc/contract';

const cases: Record<string, { good: unknown[]; bad: unknown[] }> = {
  openCapture: { good: [{ path: '/x.pcap' }], bad: [{}, { path: '' }, { path: 3 }, null, 'x', { path: 'x'.repeat(5000) }] },
  cancelJob: { good: [{ id: 1 }], bad: [{ id: 0 }, { id: '1' }, { id: 1.5 }, {}] },
  pauseJob: { good: [{ id: 2, paused: true }, { id: 2, paused: false }], bad: [{ id: 2 }, { id: 2, paused: 'yes' }, { id: -1, paused: true }] },
  queryFlows: {
    good: [{ offset: 0, limit: 10 }, { offset: 5, limit: 0, filter: 'has:gap', sort: { key: 'bytesC2s', dir: 'desc' } }],
    bad: [{ offset: -1, limit: 1 }, { offset: 0, limit: 20_000 }, { offset: 0, limit: 1, sort: { key: 'x', dir: 'asc' } }, { offset: 0, limit: 1, filter: 7 }, { offset: 0, limit: 1, sort: { key: 'id', dir: 'up' } }],
  },
  exportFlows: {
    good: [{ formats: ['raw'], out: '/tmp/x' }, { formats: ['pcapng', 'jsonl'], out: '/tmp/x', ids: [1, 2] }, { formats: ['csv'], out: '/x', filter: 'port:80' }],
    bad: [{ formats: [], out: '/tmp/x' }, { formats: ['zip'], out: '/tmp/x' }, { formats: ['raw'], out: 'relative/dir' }, { formats: ['raw'], out: '/x', ids: [0] }, { formats: 'raw', out: '/x' }],
  },
  readMessages: { good: [{ id: 3 }], bad: [{ id: 0 }, { id: 1.5 }, { id: '1' }, { id: 1, extra: true }, null] },
  readStream: { good: [{ id: 1, dir: 0, from: 0, to: 100 }], bad: [{ id: 1, dir: 2, from: 0, to: 1 }, { id: 1, dir: 0, from: 10, to: 5 }, { id: 1, dir: 0, from: 0, to: 1e9 }, { id: 0, dir: 1, from: 0, to: 1 }] },
  getState: { good: [{}], bad: [{ x: 1 }, null, []] },
  listDevices: { good: [{}], bad: [{ all: true }, 'lo'] },
  checkFilter: { good: [{ device: 'lo', filter: '' }, { device: 'eth0', filter: 'tcp port 80' }], bad: [{ device: '', filter: '' }, { device: 'lo' }, { device: 'lo', filter: 5 }] },
  searchStream: {
    good: [{ id: 1, dir: 0, pattern: '474554', from: 0 }, { id: 2, dir: 1, pattern: 'ff', from: 10, back: true }],
    bad: [{ id: 1, dir: 0, pattern: '', from: 0 }, { id: 1, dir: 0, pattern: 'GET', from: 0 }, { id: 1, dir: 0, pattern: 'abc', from: 0 }, { id: 1, dir: 2, pattern: 'ab', from: 0 }, { id: 1, dir: 0, pattern: 'ab', from: -1 }],
  },
  readRows: {
    good: [{ id: 1, view: 'text', wrap: 120, from: 0, count: 100 }, { id: 2, view: 'hex', wrap: 16, from: 9, count: 2000, at: { dir: 1, offset: 3_000_000 } }],
    bad: [{ id: 1, view: 'raw', wrap: 120, from: 0, count: 1 }, { id: 1, view: 'text', wrap: 8, from: 0, count: 1 }, { id: 1, view: 'text', wrap: 80, from: 0, count: 2001 }, { id: 1, view: 'text', wrap: 80, from: 0, count: 1, at: { dir: 2, offset: 0 } }, { id: 1, view: 'text', wrap: 80, from: 0, count: 1, x: 1 }],
  },
  flowTimeline: { good: [{ bins: 200 }, { bins: 1, filter: 'port:80' }], bad: [{ bins: 0 }, { bins: 5000 }, { bins: 10, x: 1 }, { bins: 10, filter: 3 }, {}] },
  listRecent: { good: [{}], bad: [{ all: true }, null, 'x'] },
  newSession: { good: [{}], bad: [{ keep: true }, null, []] },
  selfTest: { good: [{}], bad: [{ sets: ['real'] }, null, []] },
  comparePolicies: { good: [{ id: 1 }], bad: [{}, { id: 0 }, { id: 1, all: true }, null] },
  setHostPolicies: { good: [{ rules: [] }, { rules: [{ net: '10.0.0.0/8', policy: 'linux' }] }], bad: [{}, { rules: [{ net: '' , policy: 'linux' }] }, { rules: [{ net: 'x', policy: 'linux', more: 1 }] }, { rules: 'linux' }] },
  readPackets: { good: [{ id: 1, from: 0, count: 100 }, { id: 9, from: 5000, count: 50_000 }], bad: [{ id: 0, from: 0, count: 1 }, { id: 1, from: -1, count: 1 }, { id: 1, from: 0, count: 50_001 }, { id: 1, from: 0 }, { id: 1, from: 0, count: 1, x: 1 }] },
  findFrame: { good: [{ frame: 1 }, { frame: 4_000_000 }, { frame: 9, prefer: 3 }], bad: [{ frame: 0 }, { frame: 1.5 }, {}, { frame: 1, id: 2 }, { frame: '3' }, { frame: 2, prefer: 0 }] },
  setLimits: { good: [{ maxConnections: 1 }, { maxConnections: 150_000 }], bad: [{ maxConnections: 0 }, { maxConnections: 1.5 }, {}, { maxConnections: 10, other: 1 }, { maxConnections: 1e9 }] },
  startCapture: { good: [{ device: 'lo', filter: 'tcp' }, { device: 'lo', filter: '', write: '/tmp/x.pcapng' }], bad: [{ device: 'lo' }, { device: 'lo', filter: '', write: '' }, { filter: 'tcp' }] },
};

describe('contract guards', () => {
  it('a table covers every channel', () => {
    expect(Object.keys(cases).sort()).toEqual([...CHANNELS].sort());
  });
  for (const name of CHANNELS) {
    it(name, () => {
      const g = guards[name] as (v: unknown) => boolean;
      for (const v of cases[name].good) expect(g(v)).toBe(true);
      for (const v of cases[name].bad) expect(g(v)).toBe(false);
    });
  }
});
