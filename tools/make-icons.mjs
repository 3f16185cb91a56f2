// Draws Weft's icon (the woven lattice of renderer/public/favicon.svg) as PNGs for the packages:
// build/icons/NxN.png, which electron-builder uses for the deb, the AppImage and the window.
//   node tools/make-icons.mjs
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';

const CRC = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (b) => {
  let c = 0xffffffff;
  for (const x of b) c = CRC[(c ^ x) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
function png(size, pixel) {
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) raw.set(pixel((x + 0.5) / size, (y + 0.5) / size), y * (size * 4 + 1) + 1 + x * 4);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}
// in units of the 32-wide SVG: a rounded square, three blue weft threads, two amber warp threads over them
const BG = [0x1d, 0x24, 0x33, 255], BLUE = [0x5b, 0x8d, 0xef, 255], AMBER = [0xe8, 0xb0, 0x4a, 255], NONE = [0, 0, 0, 0];
function pixel(u, v) {
  const x = u * 32, y = v * 32;
  const r = 6, cx = Math.min(Math.max(x, r), 32 - r), cy = Math.min(Math.max(y, r), 32 - r);
  if ((x - cx) ** 2 + (y - cy) ** 2 > r * r) return NONE;
  const near = (a, b) => Math.abs(a - b) <= 1.5;
  if ((near(x, 11) || near(x, 21)) && y >= 4.5 && y <= 27.5) return AMBER;
  if ((near(y, 10) || near(y, 16) || near(y, 22)) && x >= 4.5 && x <= 27.5) return BLUE;
  return BG;
}
const dir = join(import.meta.dirname, '..', 'build', 'icons');
mkdirSync(dir, { recursive: true });
for (const size of [16, 32, 48, 64, 128, 256, 512]) writeFileSync(join(dir, `${size}x${size}.png`), png(size, pixel));
