/**
 * Shipping: electron-builder.yml validates against the schema shipped in app-builder-lib and says
 * what the issue asks (targets, native addon outside the asar, the deb's capture rights); and a
 * hardening audit of the Electron shell in the spirit of electronegativity's checks, run on every
 * test run (CI included): each finding is named after the check it fails; there must be none.
 */
import Ajv from 'ajv';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..', '..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml = require('js-yaml') as { load(s: string): unknown };

describe('electron-builder.yml', () => {
  const config = yaml.load(read('electron-builder.yml')) as Record<string, any>;

  it('validates against app-builder-lib/scheme.json', () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    const validate = ajv.compile(JSON.parse(read('node_modules/app-builder-lib/scheme.json')));
    expect([validate(config), validate.errors ?? null]).toEqual([true, null]);
    // and a wrong key is caught, so the check checks
    expect(validate({ ...config, linux: { ...config.linux, targett: 'deb' } })).toBe(false);
  });

  it('names the app, keeps native addons out of the asar, builds AppImage, deb, dmg and nsis', () => {
    expect(config).toMatchObject({ appId: 'org.weft.app', productName: 'Weft', mac: { target: 'dmg' }, win: { target: 'nsis' } });
    expect(config.asarUnpack).toContain('**/*.node');
    expect(config.linux.target).toEqual(['AppImage', 'deb']);
    expect(JSON.parse(read('package.json')).scripts.dist).toMatch(/electron-builder/);
  });

  it("sets Electron's fuses: no ELECTRON_RUN_AS_NODE, NODE_OPTIONS or --inspect; only its own integrity-checked asar", () => {
    expect(config.electronFuses).toEqual({
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      enableCookieEncryption: true,
    });
    // the keys are electron-builder's own (a misspelt one would be dropped silently by the fuse flipper)
    const types = read('node_modules/app-builder-lib/out/configuration.d.ts');
    for (const k of Object.keys(config.electronFuses)) expect(types).toMatch(new RegExp(`\\b${k}\\?: boolean`));
  });

  it('grants no capture rights to the Electron binary: no setcap, no after-install script', () => {
    expect(config.deb.afterInstall).toBeUndefined();
    expect(JSON.stringify(config)).not.toMatch(/setcap|cap_net_raw/);
  });

  it("the deb's metadata: electron-builder's own dependencies kept and libpcap added, maintainer, homepage, icons", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const FpmTarget = (require('app-builder-lib/out/targets/FpmTarget') as { default: { prototype: { getDefaultDepends(t: string): string[] } } }).default;
    const defaults = FpmTarget.prototype.getDefaultDepends.call({}, 'deb');
    expect(defaults.length).toBeGreaterThan(5);
    for (const d of defaults) expect(config.deb.depends).toContain(d);
    expect(config.deb.depends).toContain('libpcap0.8');
    // dumpcap holds the capture rights, not the app
    expect(config.deb.recommends).toEqual(['wireshark-common']);
    const pkg = JSON.parse(read('package.json'));
    expect(pkg.author.email).toMatch(/^[^@\s]+@[^@\s]+\.[a-z]+$/);
    expect(pkg.homepage).toMatch(/^https:\/\//);
    expect(config.linux.description.length).toBeGreaterThan(40);
    // the icons are PNGs of the size their names say, 16 to 512
    for (const size of [16, 32, 48, 64, 128, 256, 512]) {
      const png = readFileSync(join(ROOT, config.linux.icon, `${size}x${size}.png`));
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([size, size]);
    }
  });
});

/** Source files of the Electron shell and the preload, comments removed (they may name what they avoid). */
function shellSources(): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  for (const dir of ['main/electron', 'preload'])
    for (const f of readdirSync(join(ROOT, dir))) if (f.endsWith('.ts'))
        out.push({ path: `${dir}/${f}`, text: read(`${dir}/${f}`).replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '') });
  return out;
}

describe('hardening audit (electronegativity-style checks on the shell)', () => {
  it('finds nothing', () => {
    const findings: string[] = [];
    const sources = shellSources();
    const all = sources.map((s) => s.text).join('\n');
    const flag = (check: string, bad: RegExp) => {
      for (const s of sources) if (bad.test(s.text)) findings.push(`${check}: ${s.path}`);
    };
    flag('NODE_INTEGRATION_JS_CHECK', /nodeIntegration\s*:\s*true/);
    flag('NODE_INTEGRATION_SUBFRAMES', /nodeIntegrationInSubFrames\s*:\s*true/);
    flag('CONTEXT_ISOLATION_JS_CHECK', /contextIsolation\s*:\s*false/);
    flag('SANDBOX_JS_CHECK', /sandbox\s*:\s*false/);
    flag('WEB_SECURITY_JS_CHECK', /webSecurity\s*:\s*false/);
    flag('INSECURE_CONTENT_JS_CHECK', /allowRunningInsecureContent\s*:\s*true/);
    flag('EXPERIMENTAL_FEATURES_JS_CHECK', /experimentalFeatures\s*:\s*true/);
    flag('BLINK_FEATURES_JS_CHECK', /enableBlinkFeatures/);
    flag('REMOTE_MODULE_JS_CHECK', /@electron\/remote|enableRemoteModule|\.remote\b/);
    flag('LOAD_REMOTE_CONTENT', /loadURL\(\s*['"`]https?:/);
    flag('OPEN_EXTERNAL_JS_CHECK', /openExternal\((?![^)]*url\))/); // only the guarded call below
    flag('PRELOAD_EXPOSES_IPC', /exposeInMainWorld\([^)]*ipcRenderer\b(?!\.)/);
    flag('PRELOAD_GENERIC_INVOKE', /invoke\(\s*[a-z]\w*\s*[,)]/); // every invoke names its channel
    // every window is made with the hardened options, and hardened
    const windows = all.match(/new BrowserWindow\(([^)]*)\)/g) ?? [];
    if (windows.length === 0 || windows.some((w) => !w.includes('windowOptions('))) findings.push('BROWSER_WINDOW_OPTIONS: a window made without windowOptions()');
    if (!/harden\(win\.webContents\)/.test(all)) findings.push('NAVIGATION: the window is not hardened');
    if (!/setPermissionRequestHandler/.test(all)) findings.push('PERMISSION_REQUEST_HANDLER_GLOBAL_CHECK: no permission request handler');
    // openExternal only for http(s) links, behind a check
    if (/openExternal/.test(all) && !/\^https\?:\\\/\\\/\/\.test\(url\)\) void shell\.openExternal\(url\)/.test(all)) findings.push('OPEN_EXTERNAL_JS_CHECK: openExternal without a scheme check');
    // the page's Content-Security-Policy
    const csp = /Content-Security-Policy" content="([^"]+)"/.exec(read('renderer/index.html'))?.[1] ?? '';
    if (!csp) findings.push('CSP_GLOBAL_CHECK: no Content-Security-Policy');
    if (/unsafe-eval/.test(csp) || !/script-src 'self'/.test(csp) || !/object-src 'none'/.test(csp) || !/default-src 'self'/.test(csp)) findings.push(`CSP_GLOBAL_CHECK: weak policy: ${csp}`);
    // the options themselves (values, not just absences): electron-glue.test.ts checks them at run time
    for (const [k, v] of [['contextIsolation', 'true'], ['sandbox', 'true'], ['nodeIntegration', 'false'], ['webviewTag', 'false']])
      if (!new RegExp(`${k}:\\s*${v}`).test(all)) findings.push(`WEB_PREFERENCES: ${k} is not set to ${v}`);
    expect(findings).toEqual([]);
  });

  it('the checks catch what they look for', () => {
    const bad = [/nodeIntegration\s*:\s*true/, /webSecurity\s*:\s*false/, /invoke\(\s*[a-z]\w*\s*[,)]/];
    expect(bad[0].test('webPreferences: { nodeIntegration: true }')).toBe(true);
    expect(bad[1].test('webSecurity: false')).toBe(true);
    expect(bad[2].test("ipcRenderer.invoke(channel, req)")).toBe(true);
    expect(bad[2].test("ipcRenderer.invoke('weft:openCapture', req)")).toBe(false);
  });

  it('the packaged layout: the libpcap binding and the engine threads\' script land outside app.asar, where the engine looks for them', () => {
    const addon = join(ROOT, 'native', 'weft-pcap', 'build', 'Release', 'weft_pcap.node');
    expect(existsSync(addon)).toBe(true); // built by npm install (libpcap-dev is installed here)
    // electron-builder's dir target with a stand-in Electron (the real one cannot be downloaded):
    // it lays out resources/ and then fails at the fuses, which need the real binary
    const dir = mkdtempSync(join(tmpdir(), 'weft-pack-'));
    try {
      mkdirSync(join(dir, 'electron'));
      writeFileSync(join(dir, 'electron', 'electron'), '#!/bin/sh\n');
      chmodSync(join(dir, 'electron', 'electron'), 0o755);
      writeFileSync(join(dir, 'electron', 'version'), '45.4.1');
      const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'electron-builder', 'cli.js'), '--linux', 'dir', `-c.electronDist=${join(dir, 'electron')}`, '-c.npmRebuild=false', `-c.directories.output=${join(dir, 'out')}`], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
      const resources = join(dir, 'out', 'linux-unpacked', 'resources');
      expect(existsSync(join(resources, 'app.asar')), r.stdout + r.stderr).toBe(true);
      // the engine bundle is app.asar/out/cli/*.cjs: two folders up, then native/… in app.asar.unpacked
      expect(existsSync(join(resources, 'app.asar.unpacked', 'native', 'weft-pcap', 'build', 'Release', 'weft_pcap.node'))).toBe(true);
      // the engine threads' script, which engineBundle looks for beside app.asar first
      expect(existsSync(join(resources, 'app.asar.unpacked', 'out', 'cli', 'shard-worker.cjs'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);
});
