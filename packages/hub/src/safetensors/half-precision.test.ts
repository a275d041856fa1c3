import { describe, expect, it } from 'vitest';
import { decodeBfloat16, decodeFloat16, float32ToBfloat16Bits, float32ToFloat16Bits } from './half-precision';

describe('float16', () => {
  it('decodes known bit patterns', () => {
    const bits = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x0400, 0x7c00, 0xfc00, 0x8000, 0x3555]);
    const values = decodeFloat16(bits);
    expect(Array.from(values.slice(0, 5))).toEqual([1, -2, 65504, 2 ** -24, 2 ** -14]);
    expect(values[5]).toBe(Infinity);
    expect(values[6]).toBe(-Infinity);
    expect(Object.is(values[7], -0)).toBe(true);
    expect(values[8]).toBeCloseTo(0.33325, 5);
    expect(Number.isNaN(decodeFloat16(new Uint16Array([0x7e00]))[0])).toBe(true);
  });

  it('round-trips every non-NaN bit pattern exactly', () => {
    const all = new Uint16Array(65536).map((_, index) => index);
    const values = decodeFloat16(all);
    for (let bits = 0; bits < 65536; bits++) {
      if (Number.isNaN(values[bits])) {
        expect(Number.isNaN(decodeFloat16(new Uint16Array([float32ToFloat16Bits(values[bits])]))[0])).toBe(true);
        continue;
      }
      if (float32ToFloat16Bits(values[bits]) !== bits) {
        throw new Error(`bits 0x${bits.toString(16)} → ${values[bits]} → 0x${float32ToFloat16Bits(values[bits]).toString(16)}`);
      }
    }
  });

  it('rounds to nearest even and overflows to infinity', () => {
    // 1 + 2^-11 is halfway between 1 and the next float16 (1 + 2^-10): ties go to even (1).
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00);
    // 1 + 3·2^-11 is halfway between 1 + 2^-10 (odd) and 1 + 2^-9 (even).
    expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(float32ToFloat16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    expect(float32ToFloat16Bits(65519)).toBe(0x7bff);
    expect(float32ToFloat16Bits(65520)).toBe(0x7c00);
    expect(float32ToFloat16Bits(1e9)).toBe(0x7c00);
    expect(float32ToFloat16Bits(-1e9)).toBe(0xfc00);
    // Subnormals: 2^-25 is half the smallest subnormal, a tie, so rounds to even (0).
    expect(float32ToFloat16Bits(2 ** -25)).toBe(0);
    expect(float32ToFloat16Bits(2 ** -25 * 1.5)).toBe(1);
    expect(float32ToFloat16Bits(3 * 2 ** -25)).toBe(2);
    expect(float32ToFloat16Bits(1e-10)).toBe(0);
    expect(float32ToFloat16Bits(-1e-10)).toBe(0x8000);
  });
});

describe('bfloat16', () => {
  it('decodes as the top half of a float32', () => {
    const values = decodeBfloat16(new Uint16Array([0x3f80, 0xc000, 0x7f80, 0x0001]));
    expect(values[0]).toBe(1);
    expect(values[1]).toBe(-2);
    expect(values[2]).toBe(Infinity);
    expect(values[3]).toBe(new Float32Array(new Uint32Array([0x00010000]).buffer)[0]);
  });

  it('rounds to nearest even like torch, NaN to 0x7fc0', () => {
    const fromBits = (word: number) => new Float32Array(new Uint32Array([word]).buffer)[0];
    expect(float32ToBfloat16Bits(1)).toBe(0x3f80);
    expect(float32ToBfloat16Bits(fromBits(0x3f808000))).toBe(0x3f80); // tie, even stays
    expect(float32ToBfloat16Bits(fromBits(0x3f818000))).toBe(0x3f82); // tie, odd rounds up
    expect(float32ToBfloat16Bits(fromBits(0x3f808001))).toBe(0x3f81);
    expect(float32ToBfloat16Bits(NaN)).toBe(0x7fc0);
    expect(float32ToBfloat16Bits(-Infinity)).toBe(0xff80);
    for (let bits = 0; bits < 65536; bits += 7) {
      const value = decodeBfloat16(new Uint16Array([bits]))[0];
      if (!Number.isNaN(value)) {
        expect(float32ToBfloat16Bits(value)).toBe(bits);
      }
    }
  });
});
