/** Content types of the renderer's files, as weft serve and the desktop app's app:// scheme send them. */
import { extname } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

/** The content type of `file` by its extension (application/octet-stream when unknown). */
export function contentType(file: string): string {
  return TYPES[extname(file)] ?? 'application/octet-stream';
}
