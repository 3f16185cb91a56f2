/**
 * The layers are proved, not hoped for (STYLE.md §4): this reads every import in the source tree.
 *   - main/engine/ imports only files inside main/engine/, never node:* or a package;
 *   - main/service/ never imports main/cli/;
 *   - only main/electron/ (and the preload, which Electron loads) imports `electron`;
 *   - the renderer imports main/ only for types (`import type`).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '..', '..');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|mts|svelte)$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

interface Import {
  file: string;
  spec: string;
  typeOnly: boolean;
}

/** Static imports, re-exports and dynamic import()/require() of a string literal. */
export function importsOf(file: string): Import[] {
  const src = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const found: Import[] = [];
  // the bindings never hold a quote or a semicolon: a side-effect import ('x.css') does not run on into the next one
  const stat = /(?:^|\n)\s*(import|export)\s+(type\s+)?(?:[^;'"]*?\s+from\s+)?['"]([^'"]+)['"]/g;
  for (let m; (m = stat.exec(src)); ) found.push({ file, spec: m[3], typeOnly: !!m[2] });
  const dyn = /\b(?:import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/g;
  for (let m; (m = dyn.exec(src)); ) found.push({ file, spec: m[1], typeOnly: false });
  return found;
}

const all = [...sourceFiles(join(ROOT, 'main')), ...sourceFiles(join(ROOT, 'preload')), ...sourceFiles(join(ROOT, 'renderer'))].flatMap(importsOf);
const rel = (f: string) => relative(ROOT, f);

describe('layering', () => {
  it('finds the imports it checks', () => {
    expect(all.filter((i) => rel(i.file).startsWith('main/engine/')).length).toBeGreaterThan(10);
    expect(all.some((i) => i.spec === 'electron')).toBe(true);
  });

  it('main/engine imports nothing outside itself: no node:*, no packages', () => {
    const engine = join(ROOT, 'main', 'engine');
    const bad = all
      .filter((i) => rel(i.file).startsWith('main/engine/'))
      .filter((i) => !i.spec.startsWith('.') || !resolve(dirname(i.file), i.spec).startsWith(engine + '/'))
      .map((i) => `${rel(i.file)} imports ${i.spec}`);
    expect(bad).toEqual([]);
  });

  it('main/service never imports main/cli (the commands use the services, not the other way round)', () => {
    const bad = all.filter((i) => rel(i.file).startsWith('main/service/') && i.spec.startsWith('.') && rel(resolve(dirname(i.file), i.spec)).startsWith('main/cli/')).map((i) => `${rel(i.file)} imports ${i.spec}`);
    expect(bad).toEqual([]);
  });

  it('main/engine uses no Node globals (Buffer, process, require)', () => {
    const bad = sourceFiles(join(ROOT, 'main', 'engine'))
      .filter((f) => /\b(Buffer|process|require)\s*[.(]/.test(readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '')))
      .map(rel);
    expect(bad).toEqual([]);
  });

  it('only main/electron and the preload import electron', () => {
    const bad = all
      .filter((i) => i.spec === 'electron' || i.spec.startsWith('electron/'))
      .filter((i) => !rel(i.file).startsWith('main/electron/') && !rel(i.file).startsWith('preload/'))
      .map((i) => rel(i.file));
    expect(bad).toEqual([]);
  });

  it('the renderer imports main/ for types only (and the few pure helpers both sides share)', () => {
    // shared with the renderer: a module of plain functions that imports nothing (checked here)
    const SHARED = [join(ROOT, 'main', 'engine', 'util', 'printable')];
    for (const f of SHARED) expect(importsOf(f + '.ts')).toEqual([]);
    const bad = all
      .filter((i) => rel(i.file).startsWith('renderer/') && i.spec.startsWith('.'))
      .filter((i) => resolve(dirname(i.file), i.spec).startsWith(join(ROOT, 'main') + '/') && !i.typeOnly && !SHARED.includes(resolve(dirname(i.file), i.spec)))
      .map((i) => `${rel(i.file)} imports ${i.spec}`);
    expect(bad).toEqual([]);
  });

  it('the checker catches a violation', () => {
    // Guard against a regex that silently matches nothing.
    const fake = join(ROOT, 'test', 'unit', 'layering.test.ts');
    expect(importsOf(fake).map((i) => i.spec)).toContain('node:fs');
  });
});
