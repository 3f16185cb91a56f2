/**
 * What the engine's parsers leave to the service layer, which has Node: zlib (lent to parsers as
 * `inflate`, and used here for HTTP content codings) and the official `bson` package (MongoDB
 * documents to Extended JSON). Everything returned is plain JSON-safe data.
 */
import { EJSON, deserialize } from 'bson';
import { brotliDecompressSync, constants, gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import type { MongoDocument, ParserHost } from '../../engine/protocols';

/** Largest body a message keeps once decoded (the engine keeps a 4 KiB preview of the encoded one). */
const DECODED_MAX = 256 * 1024;
const MONGO_MAX = 16 * 1024 * 1024;

export const PARSER_HOST: ParserHost = {
  inflate(data, maxOutput) {
    try {
      // flushing, not finishing: data cut short inflates as far as it goes
      return new Uint8Array(inflateSync(data, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: Math.min(Math.max(maxOutput, 1), MONGO_MAX) }));
    } catch {
      return null;
    }
  },
};

/** A decoded HTTP body: text when it is UTF-8, else base64; `complete` when the whole body was decoded. */
export interface DecodedBody {
  encoding: string;
  complete: boolean;
  length: number;
  text?: string;
  base64?: string;
  /** Why nothing could be decoded. */
  error?: string;
}

/**
 * Decodes gzip / x-gzip / deflate (zlib or raw) / br from the start of a body. A body cut short
 * (the preview, or a gap) decodes as far as it goes: flushing, not finishing, keeps every whole
 * block. Several codings (`gzip, br`) are undone in reverse order. Null for identity or unknown.
 */
export function decodeBody(codings: string, body: Uint8Array, whole: boolean): DecodedBody | null {
  const list = codings
    .toLowerCase()
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s && s !== 'identity');
  if (list.length === 0) return null;
  let data: Buffer = Buffer.from(body);
  let complete = whole;
  for (const c of list.reverse()) {
    const undo = coding(c);
    if (undo === null) return null;
    try {
      const r = capped(undo, data);
      data = r.data;
      if (r.cut) complete = false;
    } catch (e) {
      return { encoding: list.reverse().join(', '), complete: false, length: 0, error: `${c}: ${(e as Error).message}` };
    }
  }
  // a body cut short may end inside a character: its whole characters are still text
  let text = utf8Text(data);
  for (let k = 1; text === null && !complete && k <= 3 && k < data.length; k++) text = utf8Text(data.subarray(0, data.length - k));
  return { encoding: list.reverse().join(', '), complete, length: data.length, ...(text !== null ? { text } : { base64: data.toString('base64') }) };
}

type Undo = (data: Buffer, maxOutputLength: number) => Buffer;

/** The function that undoes content coding `c` (flushing, not finishing), or null when unknown. */
function coding(c: string): Undo | null {
  const sync = { finishFlush: constants.Z_SYNC_FLUSH };
  if (c === 'gzip' || c === 'x-gzip') return (d, max) => gunzipSync(d, { ...sync, maxOutputLength: max });
  if (c === 'deflate') return (d, max) => (d[0] !== undefined && (d[0] & 0x0f) === 8 && ((d[0] << 8) | (d[1] ?? 0)) % 31 === 0 ? inflateSync(d, { ...sync, maxOutputLength: max }) : inflateRawSync(d, { ...sync, maxOutputLength: max }));
  if (c === 'br') return (d, max) => brotliDecompressSync(d, { finishFlush: constants.BROTLI_OPERATION_FLUSH, maxOutputLength: max });
  return null;
}

/**
 * `undo` applied to `data`, its output cut at DECODED_MAX: zlib refuses (throws) rather than
 * stopping at maxOutputLength, so past it the longest start of the input whose output fits is
 * found by halving (output grows with input when flushing), and decoded instead.
 */
function capped(undo: Undo, data: Buffer): { data: Buffer; cut: boolean } {
  try {
    const out = undo(data, DECODED_MAX);
    return { data: out, cut: out.length >= DECODED_MAX };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') throw e;
  }
  let lo = 0;
  let hi = data.length;
  let best: Buffer = Buffer.alloc(0);
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    try {
      best = undo(data.subarray(0, mid), DECODED_MAX);
      lo = mid;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ERR_BUFFER_TOO_LARGE') hi = mid;
      else lo = mid; // a start cut inside a header: take more
    }
  }
  return { data: best, cut: true };
}

/** The bytes as text when they are valid UTF-8, else null. */
export function utf8Text(b: Uint8Array): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    return null;
  }
}

/** A MongoDB document as relaxed Extended JSON, or a note saying why it is not there. */
export function decodeDocument(d: MongoDocument): unknown {
  if (!d.complete) return { $incomplete: `${d.bytes.length} bytes captured of a larger document` };
  try {
    return EJSON.serialize(deserialize(d.bytes, { promoteValues: true }), { relaxed: true });
  } catch (e) {
    return { $invalid: (e as Error).message };
  }
}

/** Replaces bytes in a message's fields by what people read: decoded bodies and documents. */
export function finishFields(protocol: string, fields: Record<string, unknown>): Record<string, unknown> {
  if (protocol === 'http' && fields.bodyPreview instanceof Uint8Array) {
    const headers = (fields.headers as [string, string][] | undefined) ?? [];
    const coding = headers.filter(([k]) => k.toLowerCase() === 'content-encoding').map(([, v]) => v).join(', ');
    if (coding) {
      const whole = fields.bodyPreview.length === fields.bodyLength && !fields.incomplete;
      const body = decodeBody(coding, fields.bodyPreview, whole);
      if (body) return { ...fields, decodedBody: body };
    }
    return fields;
  }
  if (protocol === 'mongodb') {
    const out = { ...fields };
    if (Array.isArray(fields.documents)) out.documents = (fields.documents as MongoDocument[]).map(decodeDocument);
    if (fields.sequences) out.sequences = Object.fromEntries(Object.entries(fields.sequences as Record<string, MongoDocument[]>).map(([k, v]) => [k, v.map(decodeDocument)]));
    return out;
  }
  return fields;
}

/** Levels of nesting a message's fields keep: a Redis reply of arrays 1,500 deep (6 KB) overflowed the stack of every walk over it. */
export const FIELD_DEPTH = 64;

/**
 * Fields as JSON-safe data: bytes as base64 strings, everything else as it is, at most
 * FIELD_DEPTH levels deep (what lies deeper is one string saying so), so that no later walk —
 * JSON, structured clone to another process, the page's tree — meets a deeper structure.
 */
export function jsonSafe(fields: Record<string, unknown>): Record<string, unknown> {
  const walk = (v: unknown, depth: number): unknown => {
    if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.length).toString('base64');
    if (typeof v === 'bigint') return v.toString();
    if (v && typeof v === 'object' && depth >= FIELD_DEPTH) return `… nested deeper than ${FIELD_DEPTH} levels`;
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, depth + 1)]));
    return v;
  };
  return walk(fields, 0) as Record<string, unknown>;
}
