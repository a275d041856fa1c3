/**
 * bitsandbytes' weight formats in plain TypeScript: the reference the native store is tested
 * against, and the storage of the array store (no native addon). Values are float32 throughout,
 * in the order the native code computes them, so both give the same bits.
 */
import type { StorageName } from './frozen-storage';

/** bitsandbytes' NF4 code book (QLoRA's normal float), index = the 4-bit code. */
export const NF4_CODE: readonly number[] = [
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534,
  0.16093020141124725, 0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
].map(Math.fround);

/** bitsandbytes' FP4 (sign, 2 exponent bits, 1 mantissa bit), normalised to a largest magnitude of 1. */
export const FP4_CODE: readonly number[] = [
  0.0, 0.0052083333, 0.6666667, 1.0, 0.33333333, 0.5, 0.16666667, 0.25, -0.0, -0.0052083333, -0.6666667, -1.0, -0.33333333, -0.5, -0.16666667, -0.25,
].map(Math.fround);

export const BLOCK_SIZE = 64;
export const NESTED_BLOCK_SIZE = 256;

const f = Math.fround;

let dynamicCode: Float32Array | undefined;

/**
 * bitsandbytes' `create_dynamic_map(signed=True)` (what double quantisation codes absmax with):
 * for i in 0..6 the midpoints of `torch.linspace(0.1, 1, 2^i + 1)` in float32 times 10^(i−6),
 * both signs, then 0 and 1, sorted.
 */
export function dynamicMap(): Float32Array {
  if (dynamicCode) return dynamicCode;
  const values: number[] = [];
  for (let i = 0; i < 7; i++) {
    const steps = 2 ** i + 1;
    const start = f(0.1);
    const step = f(f(1 - start) / (steps - 1));
    const halfway = Math.floor(steps / 2);
    const boundaries = Array.from({ length: steps }, (_, index) => (index < halfway ? f(start + f(step * index)) : f(1 - f(step * (steps - index - 1)))));
    const scale = f(10 ** (i - 6));
    for (let index = 0; index + 1 < steps; index++) {
      const mean = f(f(boundaries[index]! + boundaries[index + 1]!) / 2);
      values.push(f(scale * mean), -f(scale * mean));
    }
  }
  values.push(0, 1);
  dynamicCode = Float32Array.from(values.sort((a, b) => a - b));
  return dynamicCode;
}

/** The index of the nearest value in a sorted code (a value on a midpoint takes the lower one). */
export function nearestCode(code: ArrayLike<number>, x: number): number {
  let low = 0;
  let high = code.length - 1;
  if (x <= code[0]!) return 0;
  if (x >= code[high]!) return high;
  while (high - low > 1) {
    const middle = (low + high) >> 1;
    if (code[middle]! <= x) low = middle;
    else high = middle;
  }
  return f(x - code[low]!) <= f(code[high]! - x) ? low : high;
}

let nf4Thresholds: Float32Array | undefined;

/**
 * bitsandbytes' NF4 quantiser: the number of code midpoints (float32, (a + b)·0.5) that x exceeds,
 * so a value on a midpoint takes the lower code (bitsandbytes' tree compares with the midpoints).
 */
export function quantizeNf4(x: number): number {
  nf4Thresholds ??= Float32Array.from({ length: 15 }, (_, index) => f(f(NF4_CODE[index]! + NF4_CODE[index + 1]!) * 0.5));
  let code = 0;
  for (let index = 0; index < 15; index++) if (x > nf4Thresholds[index]!) code++;
  return code;
}

/** bitsandbytes' FP4 quantiser: thresholds at the midpoints of the magnitudes, sign apart. */
export function quantizeFp4(x: number): number {
  const sign = x < 0 ? 8 : 0;
  const magnitude = Math.abs(x);
  if (magnitude > f(0.29166667)) {
    if (magnitude > f(0.583333)) return (magnitude > f(0.8333333) ? 3 : 2) + sign;
    return (magnitude > f(0.4166667) ? 5 : 4) + sign;
  }
  if (magnitude > f(0.0859375)) return (magnitude > f(0.20833333) ? 7 : 6) + sign;
  return (magnitude > f(0.00260417) ? 1 : 0) + sign;
}

/** Round to nearest, ties to even (C's nearbyintf in the default mode; torch.round). */
function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const scratch = new DataView(new ArrayBuffer(4));

export function floatToBfloat16(value: number): number {
  scratch.setFloat32(0, value);
  let bits = scratch.getUint32(0);
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) | 0x40) & 0xffff;
  bits = (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 0;
  return bits >>> 16;
}

export function bfloat16ToFloat(half: number): number {
  scratch.setUint32(0, (half << 16) >>> 0);
  return scratch.getFloat32(0);
}

export function floatToFloat16(value: number): number {
  scratch.setFloat32(0, value);
  const bits = scratch.getUint32(0);
  const sign = (bits >>> 16) & 0x8000;
  const rest = bits & 0x7fffffff;
  if (rest >= 0x7f800000) return sign | 0x7c00 | (rest > 0x7f800000 ? 0x200 : 0);
  if (rest >= 0x477ff000) return sign | 0x7c00;
  if (rest < 0x38800000) {
    scratch.setUint32(0, rest);
    return sign | roundEven(f(scratch.getFloat32(0) * 16777216));
  }
  const mantissa = (rest + 0xc8000fff + ((rest >>> 13) & 1)) >>> 0;
  return sign | (mantissa >>> 13);
}

export function float16ToFloat(half: number): number {
  const sign = half & 0x8000 ? -1 : 1;
  const exponent = (half >> 10) & 0x1f;
  const mantissa = half & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** A quantised (or narrowed) matrix `[rows, cols]`, as the array store keeps it. */
export interface QuantizedMatrix {
  readonly storage: StorageName;
  readonly rows: number;
  readonly cols: number;
  /** float32 values, uint16 halves, int8 codes, or two 4-bit codes per byte (high nibble first). */
  readonly data: Float32Array | Uint16Array | Int8Array | Uint8Array;
  /** int8: absmax/127 per row; 4-bit: absmax per block (absent when nested). */
  readonly scales?: Float32Array;
  /** 4-bit double quantisation: 8-bit dynamic codes of absmax − offset, an absmax per 256 blocks. */
  readonly nested?: { codes: Uint8Array; absmax: Float32Array; offset: number };
}

/** Quantises a `[rows, cols]` float32 matrix (row-major) the way the native store does. */
export function quantizeMatrix(values: Float32Array, rows: number, cols: number, storage: StorageName, doubleQuant = false): QuantizedMatrix {
  const count = rows * cols;
  switch (storage) {
    case 'float32':
      return { storage, rows, cols, data: Float32Array.from(values) };
    case 'bfloat16':
    case 'float16': {
      const data = new Uint16Array(count);
      const convert = storage === 'bfloat16' ? floatToBfloat16 : floatToFloat16;
      for (let index = 0; index < count; index++) data[index] = convert(values[index]!);
      return { storage, rows, cols, data };
    }
    case 'int8': {
      const data = new Int8Array(count);
      const scales = new Float32Array(rows);
      for (let row = 0; row < rows; row++) {
        let absmax = 0;
        for (let col = 0; col < cols; col++) absmax = Math.max(absmax, Math.abs(values[row * cols + col]!));
        const inverse = absmax > 0 ? f(127 / absmax) : 0;
        for (let col = 0; col < cols; col++) {
          const q = roundEven(f(values[row * cols + col]! * inverse));
          data[row * cols + col] = Math.max(-127, Math.min(127, q));
        }
        scales[row] = f(absmax / 127);
      }
      return { storage, rows, cols, data, scales };
    }
    case 'nf4':
    case 'fp4': {
      const blocks = Math.ceil(count / BLOCK_SIZE);
      const absmax = new Float32Array(blocks);
      const data = new Uint8Array(Math.ceil(count / 2));
      for (let block = 0; block < blocks; block++) {
        const begin = block * BLOCK_SIZE;
        const end = Math.min(begin + BLOCK_SIZE, count);
        let maximum = 0;
        for (let index = begin; index < end; index++) maximum = Math.max(maximum, Math.abs(values[index]!));
        absmax[block] = maximum;
        const inverse = maximum > 0 ? f(1 / maximum) : 0;
        for (let index = begin; index < end; index++) {
          const x = f(values[index]! * inverse);
          const code = storage === 'nf4' ? quantizeNf4(x) : quantizeFp4(x);
          data[index >> 1] |= index % 2 === 0 ? code << 4 : code;
        }
      }
      if (!doubleQuant) return { storage, rows, cols, data, scales: absmax };
      let sum = 0;
      for (const value of absmax) sum += value;
      const offset = f(sum / Math.max(blocks, 1));
      const groups = Math.ceil(blocks / NESTED_BLOCK_SIZE);
      const codes = new Uint8Array(blocks);
      const nestedAbsmax = new Float32Array(groups);
      const map = dynamicMap();
      for (let group = 0; group < groups; group++) {
        const begin = group * NESTED_BLOCK_SIZE;
        const end = Math.min(begin + NESTED_BLOCK_SIZE, blocks);
        let maximum = 0;
        for (let block = begin; block < end; block++) maximum = Math.max(maximum, Math.abs(f(absmax[block]! - offset)));
        nestedAbsmax[group] = maximum;
        const inverse = maximum > 0 ? f(1 / maximum) : 0;
        for (let block = begin; block < end; block++) codes[block] = nearestCode(map, f(f(absmax[block]! - offset) * inverse));
      }
      return { storage, rows, cols, data, nested: { codes, absmax: nestedAbsmax, offset } };
    }
  }
}

/** A 4-bit block's absmax (dequantised when nested): code·absmax2 + offset. */
function blockAbsmax(matrix: QuantizedMatrix, block: number): number {
  if (!matrix.nested) return matrix.scales![block]!;
  const { codes, absmax, offset } = matrix.nested;
  return f(f(dynamicMap()[codes[block]!]! * absmax[Math.floor(block / NESTED_BLOCK_SIZE)]!) + offset);
}

/** Rows `[row0, row0 + rowCount)` of a quantised matrix as float32 (into `out`, or a new array). */
export function dequantizeRows(matrix: QuantizedMatrix, row0 = 0, rowCount = matrix.rows, out = new Float32Array(rowCount * matrix.cols)): Float32Array {
  const { cols, data } = matrix;
  const first = row0 * cols;
  const count = rowCount * cols;
  switch (matrix.storage) {
    case 'float32':
      out.set((data as Float32Array).subarray(first, first + count));
      return out;
    case 'bfloat16':
    case 'float16': {
      const convert = matrix.storage === 'bfloat16' ? bfloat16ToFloat : float16ToFloat;
      for (let index = 0; index < count; index++) out[index] = convert((data as Uint16Array)[first + index]!);
      return out;
    }
    case 'int8':
      for (let row = 0; row < rowCount; row++) {
        const scale = matrix.scales![row0 + row]!;
        for (let col = 0; col < cols; col++) out[row * cols + col] = f((data as Int8Array)[first + row * cols + col]! * scale);
      }
      return out;
    default: {
      const code = matrix.storage === 'nf4' ? NF4_CODE : FP4_CODE;
      let cachedBlock = -1;
      let absmax = 0;
      for (let offset = 0; offset < count; offset++) {
        const index = first + offset;
        const block = Math.floor(index / BLOCK_SIZE);
        if (block !== cachedBlock) {
          cachedBlock = block;
          absmax = blockAbsmax(matrix, block);
        }
        const byte = (data as Uint8Array)[index >> 1]!;
        out[offset] = f(code[index % 2 === 0 ? byte >> 4 : byte & 15]! * absmax);
      }
      return out;
    }
  }
}

/** Bytes a quantised matrix holds. */
export function quantizedBytes(matrix: QuantizedMatrix): number {
  return matrix.data.byteLength + (matrix.scales?.byteLength ?? 0) + (matrix.nested ? matrix.nested.codes.byteLength + matrix.nested.absmax.byteLength : 0);
}
