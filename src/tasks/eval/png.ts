/**
 * A minimal PNG writer (8-bit RGB, zlib from node:zlib) and a confusion-matrix picture with labels in a
 * built-in 5×7 bitmap font — no image dependency.
 */
import { crc32, deflateSync } from 'node:zlib';

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** An RGB image: `data` is width × height × 3 bytes, row-major. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export function createImage(width: number, height: number, background: [number, number, number] = [255, 255, 255]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(background, i * 3);
  return { width, height, data };
}

/** PNG bytes of an RGB image (filter 0 on every row). */
export function encodePng(img: RgbImage): Buffer {
  const { width, height, data } = img;
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 3 + 1)] = 0;
    Buffer.from(data.buffer, data.byteOffset + y * width * 3, width * 3).copy(raw, y * (width * 3 + 1) + 1);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

export function fillRect(img: RgbImage, x0: number, y0: number, w: number, h: number, rgb: readonly [number, number, number]): void {
  for (let y = Math.max(0, y0); y < Math.min(img.height, y0 + h); y++) {
    for (let x = Math.max(0, x0); x < Math.min(img.width, x0 + w); x++) img.data.set(rgb, (y * img.width + x) * 3);
  }
}

// 5×7 glyphs, one string of 7 rows of 5 columns each ('#' = ink). Letters are drawn in capitals.
const GLYPHS: Record<string, string> = {
  A: '.###.#...##...#######...##...##...#',
  B: '####.#...##...#####.#...##...#####.',
  C: '.###.#...##....#....#....#...#.###.',
  D: '###..#..#.#...##...##...##..#.###..',
  E: '######....#....####.#....#....#####',
  F: '######....#....####.#....#....#....',
  G: '.###.#...##....#.####...##...#.####',
  H: '#...##...##...#######...##...##...#',
  I: '.###...#....#....#....#....#...###.',
  J: '..###...#....#....#....##..#..##...',
  K: '#...##..#.#.#..##...#.#..#..#.#...#',
  L: '#....#....#....#....#....#....#####',
  M: '#...###.###.#.##.#.##...##...##...#',
  N: '#...##...###..##.#.##..###...##...#',
  O: '.###.#...##...##...##...##...#.###.',
  P: '####.#...##...#####.#....#....#....',
  Q: '.###.#...##...##...##.#.##..#..##.#',
  R: '####.#...##...#####.#.#..#..#.#...#',
  S: '.#####....#.....###.....#....#####.',
  T: '#####..#....#....#....#....#....#..',
  U: '#...##...##...##...##...##...#.###.',
  V: '#...##...##...##...##...#.#.#...#..',
  W: '#...##...##...##.#.##.#.##.#.#.#.#.',
  X: '#...##...#.#.#...#...#.#.#...##...#',
  Y: '#...##...#.#.#...#....#....#....#..',
  Z: '#####....#...#...#...#...#....#####',
  0: '.###.#...##..###.#.###..##...#.###.',
  1: '..#...##....#....#....#....#...###.',
  2: '.###.#...#....#...#...#...#...#####',
  3: '#####...#...#.....#.....##...#.###.',
  4: '...#...##..#.#.#..#.#####...#....#.',
  5: '######....####.....#....##...#.###.',
  6: '..##..#...#....####.#...##...#.###.',
  7: '#####....#...#...#...#....#....#...',
  8: '.###.#...##...#.###.#...##...#.###.',
  9: '.###.#...##...#.####....#...#..##..',
  ' ': '...................................',
  '-': '...............###.................',
  _: '..............................#####',
  '.': '................................#..',
  ',': '.........................#...#.....',
  '/': '....#....#...#...#...#...#....#....',
  '(': '...#...#...#....#....#.....#.....#.',
  ')': '.#.....#.....#....#....#...#...#...',
  "'": '..#....#...........................',
  ':': '..........#..............#.........',
  '&': '.##..#..#.#.#...#...#.#.##..#..##.#',
  '+': '.......#....#..#####..#....#.......',
  '#': '.#.#.#####.#.#..#.#.#####.#.#......',
  '?': '.###.#...#....#...#...#.........#..',
  '%': '##...##..#...#...#...#...#..##...##',
  '>': '.#.....#.....#.....#...#...#...#...',
  '=': '..........#####.....#####..........',
};

export const GLYPH_W = 5;
export const GLYPH_H = 7;

/** Draws text (capitals, 1 px between glyphs) at (x, y), each glyph pixel a `scale`² block. */
export function drawText(
  img: RgbImage,
  text: string,
  x: number,
  y: number,
  rgb: readonly [number, number, number] = [0, 0, 0],
  scale = 1,
): void {
  let cx = x;
  for (const ch of text.toUpperCase()) {
    const g = GLYPHS[ch] ?? GLYPHS['?'];
    for (let row = 0; row < GLYPH_H; row++) {
      for (let col = 0; col < GLYPH_W; col++) {
        if (g[row * GLYPH_W + col] === '#') fillRect(img, cx + col * scale, y + row * scale, scale, scale, rgb);
      }
    }
    cx += (GLYPH_W + 1) * scale;
  }
}

export function textWidth(text: string, scale = 1): number {
  return text.length === 0 ? 0 : (text.length * (GLYPH_W + 1) - 1) * scale;
}

/** White → dark blue ramp (matplotlib 'Blues'-like) for v in [0, 1]. */
export function blues(v: number): [number, number, number] {
  const t = Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0));
  const a: [number, number, number] = [247, 251, 255];
  const b: [number, number, number] = [8, 48, 107];
  return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t)) as [number, number, number];
}

/**
 * A confusion matrix as PNG: rows = true class, columns = predicted class, cells shaded by the
 * row-normalised count; rows labelled "index name", columns by index.
 */
export function renderConfusionMatrix(counts: readonly (readonly number[])[], classNames: readonly string[], title = ''): Buffer {
  const k = counts.length;
  const sc = k <= 20 ? 2 : 1; // glyph scale
  const cell = k <= 20 ? 24 : k <= 60 ? 12 : 9;
  const lineH = (GLYPH_H + 1) * sc;
  const maxLabel = 28;
  const labels = classNames.map((n, i) => `${i} ${n.length > maxLabel ? `${n.slice(0, maxLabel - 1)}.` : n}`);
  const digits = String(Math.max(0, k - 1)).length;
  const left = 8 + Math.max(...labels.map((l) => textWidth(l, sc)), 0) + 6;
  const titleH = title ? lineH + 8 : 0;
  const legend = 'rows: true  columns: predicted';
  const top = 8 + titleH + lineH + 6 + digits * lineH + 4;
  const width = Math.max(left + k * cell + 10, 16 + textWidth(title, sc), 16 + textWidth(legend, sc));
  const height = top + k * cell + 10;
  const img = createImage(width, height);
  if (title) drawText(img, title, 8, 8, [0, 0, 0], sc);
  drawText(img, legend, 8, 8 + titleH, [90, 90, 90], sc);
  for (let c = 0; c < k; c++) {
    const s = String(c).padStart(digits, ' ');
    for (let d = 0; d < digits; d++) {
      const x = left + c * cell + Math.floor((cell - GLYPH_W * sc) / 2);
      drawText(img, s[d], x, 8 + titleH + lineH + 6 + d * lineH, [60, 60, 60], sc);
    }
  }
  for (let r = 0; r < k; r++) {
    const total = counts[r].reduce((a, b) => a + b, 0);
    const y = top + r * cell;
    drawText(img, labels[r], 8, y + Math.floor((cell - GLYPH_H * sc) / 2), [30, 30, 30], sc);
    for (let c = 0; c < k; c++) {
      const v = total ? counts[r][c] / total : 0;
      fillRect(img, left + c * cell, y, cell - 1, cell - 1, total ? blues(v) : [235, 235, 235]);
      if (r === c) {
        // mark the diagonal with a thin frame
        const m: [number, number, number] = [200, 60, 40];
        fillRect(img, left + c * cell, y, cell - 1, 1, m);
        fillRect(img, left + c * cell, y + cell - 2, cell - 1, 1, m);
        fillRect(img, left + c * cell, y, 1, cell - 1, m);
        fillRect(img, left + c * cell + cell - 2, y, 1, cell - 1, m);
      }
    }
  }
  return encodePng(img);
}
