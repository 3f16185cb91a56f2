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
    const opts = { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: DECODED_MAX };
    try {
      if (c === 'gzip' || c === 'x-gzip') data = gunzipSync(data, opts);
      else if (c === 'deflate') data = data[0] !== undefined && (data[0] & 0x0f) === 8 && ((data[0] << 8) | (data[1] ?? 0)) % 31 === 0 ? inflateSync(data, opts) : inflateRawSync(data, opts);
      else if (c === 'br') data = brotliDecompressSync(data, { finishFlush: constants.BROTLI_OPERATION_FLUSH, maxOutputLength: DECODED_MAX });
      else return null;
    } catch (e) {
      return { encoding: list.reverse().join(', '), complete: false, length: 0, error: `${c}: ${(e as Error).message}` };
    }
    if (data.length >= DECODED_MAX) complete = false;
  }
  const text = utf8Text(data);
  return { encoding: list.reverse().join(', '), complete, length: data.length, ...(text !== null ? { text } : { base64: data.toString('base64') }) };
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

/** Fields as JSON-safe data: bytes as base64 strings, everything else as it is. */
export function jsonSafe(fields: Record<string, unknown>): Record<string, unknown> {
  const walk = (v: unknown): unknown => {
    if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.length).toString('base64');
    if (typeof v === 'bigint') return v.toString();
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(fields) as Record<string, unknown>;
}
