/**
 * Recent capture files, kept between runs for the desktop app and `weft serve` alike: a small
 * JSON list (newest first, at most MAX) in the user's configuration folder —
 * $XDG_CONFIG_HOME/weft/recent.json, else ~/.config/weft/recent.json (the desktop app passes its
 * own userData folder). A missing or damaged file is an empty list; a failed write is ignored
 * (the list is a convenience, never a reason to fail an open).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

const MAX = 12;

function defaultRecentFile(): string {
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'weft', 'recent.json');
}

export class RecentFiles {
  constructor(readonly file: string = defaultRecentFile()) {}

  list(): string[] {
    try {
      const v = JSON.parse(readFileSync(this.file, 'utf8')) as unknown;
      return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string').slice(0, MAX) : [];
    } catch {
      return [];
    }
  }

  add(path: string): string[] {
    const next = [path, ...this.list().filter((p) => p !== path)].slice(0, MAX);
    try {
      mkdirSync(dirname(this.file), { recursive: true });
      // written whole then renamed: a crash never leaves half a list
      const tmp = `${this.file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(next, null, 1));
      renameSync(tmp, this.file);
    } catch {
      // a read-only home: the list lasts this run only
    }
    return next;
  }
}
