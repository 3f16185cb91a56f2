/**
 * The app's own scheme, app://weft/…: the renderer is served from out/renderer through it instead
 * of file://, so the page's 'self' (its CSP, its IPC sender check) is the app and not every file on
 * the disk. No electron import here: the path resolution is tested as it is.
 */
import { normalize, join, sep } from 'node:path';
import { contentType } from '../server/content-types';

export const APP_SCHEME = 'app';
export const APP_HOST = 'weft';
export const APP_URL = `${APP_SCHEME}://${APP_HOST}/index.html`;

/** The file under `rendererDir` an app:// URL names, with its content type, or null (another host, a path climbing out). */
export function appFile(rendererDir: string, url: string): { path: string; type: string } | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.protocol !== `${APP_SCHEME}:` || u.host !== APP_HOST) return null;
  const rel = normalize(decodeURIComponent(u.pathname === '/' ? '/index.html' : u.pathname));
  const path = join(rendererDir, rel);
  if (!path.startsWith(normalize(rendererDir) + sep)) return null;
  return { path, type: contentType(rel) };
}
