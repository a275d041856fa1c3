// Conversions between float32 and the two 16-bit float formats, with round-to-nearest-even as
// torch does (so a file written here matches one written by `tensor.half()` / `.bfloat16()`).

const float32 = new Float32Array(1);
const uint32 = new Uint32Array(float32.buffer);

let float16Table: Float32Array | undefined;

function decodeFloat16Bits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) {
    return sign * fraction * 2 ** -24;
  }
  if (exponent === 0x1f) {
    return fraction === 0 ? sign * Infinity : NaN;
  }
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** float16 bit patterns → float32 values. */
export function decodeFloat16(bits: Uint16Array): Float32Array {
  if (float16Table === undefined) {
    float16Table = new Float32Array(65536);
    for (let index = 0; index < 65536; index++) {
      float16Table[index] = decodeFloat16Bits(index);
    }
  }
  const table = float16Table;
  const values = new Float32Array(bits.length);
  for (let index = 0; index < bits.length; index++) {
    values[index] = table[bits[index]];
  }
  return values;
}

/** bfloat16 bit patterns → float32 values (exact: bfloat16 is the top half of a float32). */
export function decodeBfloat16(bits: Uint16Array): Float32Array {
  const words = new Uint32Array(bits.length);
  for (let index = 0; index < bits.length; index++) {
    words[index] = bits[index] << 16;
  }
  return new Float32Array(words.buffer);
}

/** One float32 value → float16 bits, round-to-nearest-even, overflow to ±Infinity. */
export function float32ToFloat16Bits(value: number): number {
  float32[0] = value;
  const word = uint32[0];
  const sign = (word >>> 16) & 0x8000;
  const exponent = (word >>> 23) & 0xff;
  let mantissa = word & 0x7fffff;
  if (exponent === 0xff) {
    return mantissa === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mantissa >>> 13);
  }
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) {
    return sign | 0x7c00;
  }
  if (halfExponent <= 0) {
    if (halfExponent < -10) {
      return sign;
    }
    mantissa |= 0x800000;
    const shift = 14 - halfExponent;
    let half = mantissa >>> shift;
    const remainder = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (remainder > halfway || (remainder === halfway && (half & 1) === 1)) {
      half++;
    }
    return sign | half;
  }
  let half = sign | (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  if (remainder > 0x1000 || (remainder === 0x1000 && (half & 1) === 1)) {
    half++; // may carry into the exponent, up to Infinity, which is the right answer
  }
  return half;
}

/** One float32 value → bfloat16 bits, round-to-nearest-even; NaN becomes 0x7fc0 (as in torch). */
export function float32ToBfloat16Bits(value: number): number {
  float32[0] = value;
  const word = uint32[0];
  if (Number.isNaN(value)) {
    return 0x7fc0;
  }
  const roundingBias = ((word >>> 16) & 1) + 0x7fff;
  return ((word + roundingBias) >>> 16) & 0xffff;
}

export function encodeFloat16(values: Float32Array): Uint16Array {
  const bits = new Uint16Array(values.length);
  for (let index = 0; index < values.length; index++) {
    bits[index] = float32ToFloat16Bits(values[index]);
  }
  return bits;
}

export function encodeBfloat16(values: Float32Array): Uint16Array {
  const bits = new Uint16Array(values.length);
  for (let index = 0; index < values.length; index++) {
    bits[index] = float32ToBfloat16Bits(values[index]);
  }
  return bits;
}
