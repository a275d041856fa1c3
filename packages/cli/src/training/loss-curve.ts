import { writeFile } from 'node:fs/promises';
import { PNG } from 'pngjs';

/** 3×5 pixel glyphs for the axis labels. */
const GLYPHS: Record<string, string[]> = {
  '0': ['111', '101', '101', '101', '111'],
  '1': ['010', '110', '010', '010', '111'],
  '2': ['111', '001', '111', '100', '111'],
  '3': ['111', '001', '111', '001', '111'],
  '4': ['101', '101', '111', '001', '001'],
  '5': ['111', '100', '111', '001', '111'],
  '6': ['111', '100', '111', '101', '111'],
  '7': ['111', '001', '010', '010', '010'],
  '8': ['111', '101', '111', '101', '111'],
  '9': ['111', '101', '111', '001', '111'],
  '.': ['000', '000', '000', '000', '010'],
  '-': ['000', '000', '111', '000', '000'],
  ' ': ['000', '000', '000', '000', '000'],
  a: ['000', '011', '101', '101', '011'],
  e: ['010', '101', '111', '100', '011'],
  i: ['010', '000', '010', '010', '010'],
  l: ['010', '010', '010', '010', '001'],
  n: ['000', '110', '101', '101', '101'],
  o: ['000', '010', '101', '101', '010'],
  p: ['000', '110', '101', '110', '100'],
  r: ['000', '101', '110', '100', '100'],
  s: ['000', '011', '110', '011', '110'],
  t: ['010', '111', '010', '010', '001'],
  v: ['000', '101', '101', '101', '010'],
};

export interface CurveSeries {
  /** Shown in the legend (lowercase letters and digits). */
  label?: string;
  /** [x, y] points, x = optimizer step. */
  points: ReadonlyArray<readonly [number, number]>;
  color: readonly [number, number, number];
}

/**
 * Draws loss curves into a PNG (pure JS, through pngjs): the training loss per step and, when
 * given, the eval loss per epoch, on shared axes with the min/max loss and the last step written
 * at the axes.
 */
export function renderLossCurve(series: readonly CurveSeries[], options: { width?: number; height?: number } = {}): Buffer {
  const width = options.width ?? 640;
  const height = options.height ?? 360;
  const png = new PNG({ width, height });
  png.data.fill(255);
  const set = (x: number, y: number, [r, g, b]: readonly [number, number, number]) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const offset = (Math.round(y) * width + Math.round(x)) * 4;
    png.data[offset] = r;
    png.data[offset + 1] = g;
    png.data[offset + 2] = b;
    png.data[offset + 3] = 255;
  };
  const text = (value: string, x: number, y: number, scale = 2, color: readonly [number, number, number] = [40, 40, 40]) => {
    [...value].forEach((character, index) => {
      const glyph = GLYPHS[character] ?? GLYPHS[' ']!;
      glyph.forEach((row, gy) =>
        [...row].forEach((bit, gx) => {
          if (bit !== '1') return;
          for (let dy = 0; dy < scale; dy++) for (let dx = 0; dx < scale; dx++) set(x + (index * 4 + gx) * scale + dx, y + gy * scale + dy, color);
        }),
      );
    });
  };
  const left = 70;
  const right = width - 20;
  const top = 20;
  const bottom = height - 40;
  const all = series.flatMap((entry) => entry.points).filter(([, y]) => Number.isFinite(y));
  const xs = all.map(([x]) => x);
  const ys = all.map(([, y]) => y);
  const xMin = Math.min(...xs, 0);
  const xMax = Math.max(...xs, 1);
  let yMin = Math.min(...ys, Infinity);
  let yMax = Math.max(...ys, -Infinity);
  if (!Number.isFinite(yMin)) [yMin, yMax] = [0, 1];
  if (yMax - yMin < 1e-6) [yMin, yMax] = [yMin - 0.5, yMax + 0.5];
  const px = (x: number) => left + ((x - xMin) / (xMax - xMin || 1)) * (right - left);
  const py = (y: number) => bottom - ((y - yMin) / (yMax - yMin)) * (bottom - top);
  for (let index = 0; index <= 4; index++) {
    const y = top + (index * (bottom - top)) / 4;
    for (let x = left; x <= right; x++) set(x, y, [225, 225, 225]);
  }
  for (let x = left; x <= right; x++) set(x, bottom, [0, 0, 0]);
  for (let y = top; y <= bottom; y++) set(left, y, [0, 0, 0]);
  const format = (value: number) => (Math.abs(value) >= 100 || Math.abs(value) < 0.01 ? value.toExponential(1) : value.toFixed(2));
  text(format(yMax), 4, top - 4);
  text(format(yMin), 4, bottom - 8);
  text(String(Math.round(xMin)), left, bottom + 10);
  text(String(Math.round(xMax)), right - String(Math.round(xMax)).length * 8, bottom + 10);
  text('loss', 4, Math.round((top + bottom) / 2) - 5);
  text('step', Math.round((left + right) / 2) - 16, bottom + 10);
  series.forEach((entry, index) => {
    if (entry.label) text(entry.label, right - 60, top + 4 + index * 14, 2, entry.color);
  });
  for (const entry of series) {
    const points = entry.points.filter(([, y]) => Number.isFinite(y));
    for (let index = 1; index < points.length; index++) {
      const [x0, y0] = points[index - 1]!;
      const [x1, y1] = points[index]!;
      const steps = Math.max(Math.abs(px(x1) - px(x0)), Math.abs(py(y1) - py(y0)), 1);
      for (let step = 0; step <= steps; step++) {
        const t = step / steps;
        const x = px(x0) + t * (px(x1) - px(x0));
        const y = py(y0) + t * (py(y1) - py(y0));
        set(x, y, entry.color);
        set(x, y + 1, entry.color);
      }
    }
    for (const [x, y] of points.length < 40 ? points : []) for (let d = -2; d <= 2; d++) set(px(x) + d, py(y), entry.color), set(px(x), py(y) + d, entry.color);
  }
  return PNG.sync.write(png);
}

export async function writeLossCurve(path: string, series: readonly CurveSeries[]): Promise<void> {
  await writeFile(path, renderLossCurve(series));
}
