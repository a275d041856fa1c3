import { describe, expect, it } from 'vitest';

import { loadNative } from './load-native';
import { FUSED_PARAMS, FusedOp } from './native-addon';

const status = loadNative();
const addon = status.available ? status.addon : undefined;

function seeded(size: number, seed: number, spread = 1): Float32Array {
  const values = new Float32Array(size);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < size; index++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    values[index] = ((state / 2 ** 32) * 2 - 1) * spread;
  }
  return values;
}

/** Lays arrays out one after another (at odd float offsets) in one buffer; returns their byte offsets. */
function layout(arrays: Array<Float32Array | Int32Array>): { memory: Uint8Array; offsets: number[]; read(index: number): Float32Array } {
  const offsets: number[] = [];
  let floats = 3;
  for (const array of arrays) {
    offsets.push(floats * 4);
    floats += array.length + 5;
  }
  const buffer = new ArrayBuffer(floats * 4);
  arrays.forEach((array, index) => {
    new (array instanceof Int32Array ? Int32Array : Float32Array)(buffer, offsets[index], array.length).set(array as never);
  });
  return { memory: new Uint8Array(buffer), offsets, read: (index) => new Float32Array(buffer, offsets[index], arrays[index]!.length) };
}

function params(values: number[]): Float64Array {
  const block = new Float64Array(FUSED_PARAMS);
  block.set(values);
  return block;
}

/** Largest difference relative to the reference's largest magnitude. */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let scale = 0;
  let worst = 0;
  for (let index = 0; index < expected.length; index++) {
    scale = Math.max(scale, Math.abs(expected[index]!));
    worst = Math.max(worst, Math.abs(actual[index]! - expected[index]!));
  }
  return worst / Math.max(scale, 1e-30);
}

// Against float64 references: float32 kernels land within a few ulps (1e-6 relative) of them.
const TOLERANCE = 2e-6;

describe.skipIf(addon === undefined)('@peftjs/native fused kernels against float64 references', () => {
  it('RMSNorm forward and backward', () => {
    const [rows, dim, eps] = [5, 67, 1e-6];
    const x = seeded(rows * dim, 1, 3);
    const w = seeded(dim, 2);
    const dy = seeded(rows * dim, 3);
    const m = layout([x, w, dy, new Float32Array(rows * dim), new Float32Array(rows * dim), new Float32Array(dim)]);
    const [ox, ow, ody, oy, odx, odw] = m.offsets as [number, number, number, number, number, number];
    addon!.fused(m.memory, params([FusedOp.rmsNorm, rows, dim, ox, ow, oy, eps]));
    addon!.fused(m.memory, params([FusedOp.rmsNormGrad, rows, dim, ox, ow, ody, odx, odw, eps]));
    const y = new Float64Array(rows * dim);
    const dx = new Float64Array(rows * dim);
    const dw = new Float64Array(dim);
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      for (let i = 0; i < dim; i++) sum += x[r * dim + i]! ** 2;
      const rstd = 1 / Math.sqrt(sum / dim + eps);
      let dot = 0;
      for (let i = 0; i < dim; i++) dot += dy[r * dim + i]! * w[i]! * x[r * dim + i]! * rstd;
      for (let i = 0; i < dim; i++) {
        const xHat = x[r * dim + i]! * rstd;
        y[r * dim + i] = xHat * w[i]!;
        dx[r * dim + i] = rstd * (dy[r * dim + i]! * w[i]! - (xHat * dot) / dim);
        dw[i]! += dy[r * dim + i]! * xHat;
      }
    }
    expect(relativeError(m.read(3), y)).toBeLessThan(TOLERANCE);
    expect(relativeError(m.read(4), dx)).toBeLessThan(TOLERANCE * 10);
    expect(relativeError(m.read(5), dw)).toBeLessThan(TOLERANCE);
  });

  it('LayerNorm forward and backward', () => {
    const [rows, dim, eps] = [4, 83, 1e-5];
    const x = seeded(rows * dim, 21, 3).map((v) => v + 2);
    const gamma = seeded(dim, 22);
    const beta = seeded(dim, 23);
    const dy = seeded(rows * dim, 24);
    const m = layout([x, gamma, beta, dy, new Float32Array(rows * dim), new Float32Array(rows * dim), new Float32Array(dim), new Float32Array(dim)]);
    const [ox, og, ob, ody, oy, odx, odg, odb] = m.offsets as number[];
    addon!.fused(m.memory, params([FusedOp.layerNorm, rows, dim, ox!, og!, ob!, oy!, eps]));
    addon!.fused(m.memory, params([FusedOp.layerNormGrad, rows, dim, ox!, og!, ody!, odx!, odg!, odb!, eps]));
    const [y, dx, dGamma, dBeta] = [new Float64Array(rows * dim), new Float64Array(rows * dim), new Float64Array(dim), new Float64Array(dim)];
    for (let r = 0; r < rows; r++) {
      const row = Array.from(x.subarray(r * dim, (r + 1) * dim));
      const mean = row.reduce((a, b) => a + b, 0) / dim;
      const rstd = 1 / Math.sqrt(row.reduce((a, b) => a + (b - mean) ** 2, 0) / dim + eps);
      const xHat = row.map((v) => (v - mean) * rstd);
      const dxHat = xHat.map((_, i) => dy[r * dim + i]! * gamma[i]!);
      const meanDxHat = dxHat.reduce((a, b) => a + b, 0) / dim;
      const meanDot = dxHat.reduce((a, b, i) => a + b * xHat[i]!, 0) / dim;
      xHat.forEach((v, i) => {
        y[r * dim + i] = v * gamma[i]! + beta[i]!;
        dx[r * dim + i] = rstd * (dxHat[i]! - meanDxHat - v * meanDot);
        dGamma[i]! += dy[r * dim + i]! * v;
        dBeta[i]! += dy[r * dim + i]!;
      });
    }
    expect(relativeError(m.read(4), y)).toBeLessThan(TOLERANCE);
    expect(relativeError(m.read(5), dx)).toBeLessThan(TOLERANCE * 10);
    expect(relativeError(m.read(6), dGamma)).toBeLessThan(TOLERANCE);
    expect(relativeError(m.read(7), dBeta)).toBeLessThan(TOLERANCE);
  });

  it('SwiGLU and tanh-GELU, forward and backward, saturated inputs included', () => {
    const n = 203;
    const g = seeded(n, 4, 12);
    g.set([-120, -90, -88.5, 88.5, 90, 120, 0, -0]);
    const u = seeded(n, 5);
    const dy = seeded(n, 6);
    const m = layout([g, u, dy, new Float32Array(n), new Float32Array(n), new Float32Array(n), new Float32Array(n), new Float32Array(n)]);
    const [og, ou, ody, oy, odg, odu, ogelu, odgelu] = m.offsets as number[];
    addon!.fused(m.memory, params([FusedOp.swiglu, n, og!, ou!, oy!]));
    addon!.fused(m.memory, params([FusedOp.swigluGrad, n, og!, ou!, ody!, odg!, odu!]));
    addon!.fused(m.memory, params([FusedOp.geluTanh, n, ou!, ogelu!]));
    addon!.fused(m.memory, params([FusedOp.geluTanhGrad, n, ou!, ody!, odgelu!]));
    const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
    const c = Math.sqrt(2 / Math.PI);
    const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(c * (v + 0.044715 * v ** 3)));
    const geluGrad = (v: number) => {
      const t = Math.tanh(c * (v + 0.044715 * v ** 3));
      return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * 0.044715 * v * v);
    };
    expect(
      relativeError(
        m.read(3),
        Array.from(g, (v, i) => v * sigmoid(v) * u[i]!),
      ),
    ).toBeLessThan(TOLERANCE);
    expect(
      relativeError(
        m.read(4),
        Array.from(g, (v, i) => dy[i]! * u[i]! * sigmoid(v) * (1 + v * (1 - sigmoid(v)))),
      ),
    ).toBeLessThan(TOLERANCE);
    expect(
      relativeError(
        m.read(5),
        Array.from(g, (v, i) => dy[i]! * v * sigmoid(v)),
      ),
    ).toBeLessThan(TOLERANCE);
    expect(relativeError(m.read(6), Array.from(u, gelu))).toBeLessThan(TOLERANCE);
    expect(
      relativeError(
        m.read(7),
        Array.from(u, (v, i) => dy[i]! * geluGrad(v)),
      ),
    ).toBeLessThan(TOLERANCE);
  });

  it('attention softmax with divisors and a broadcast mask, and its gradient', () => {
    const [batch, heads, seq, keys] = [2, 3, 4, 37];
    const scores = seeded(batch * heads * seq * keys, 7, 20);
    const bias = seeded(batch * seq * keys, 8, 2).map((v) => (v > 1.5 ? -1e9 : v));
    const dp = seeded(batch * heads * seq * keys, 9);
    const size = scores.length;
    const m = layout([scores, bias, dp, new Float32Array(size), new Float32Array(size)]);
    const [os, ob, odp, op, ods] = m.offsets as number[];
    addon!.fused(m.memory, params([FusedOp.softmax, batch, heads, seq, keys, os!, ob!, batch, op!, 2, 8, 1.5]));
    addon!.fused(m.memory, params([FusedOp.softmaxGrad, size / keys, keys, op!, odp!, ods!, 1 / 12]));
    const p = new Float64Array(size);
    const ds = new Float64Array(size);
    for (let row = 0; row < size / keys; row++) {
      const b = Math.floor(row / (heads * seq));
      const t = row % seq;
      const values = Array.from({ length: keys }, (_, i) => scores[row * keys + i]! / 8 / 1.5 + bias[(b * seq + t) * keys + i]!);
      const maximum = Math.max(...values);
      const sum = values.reduce((total, v) => total + Math.exp(v - maximum), 0);
      let dot = 0;
      values.forEach((v, i) => {
        p[row * keys + i] = Math.exp(v - maximum) / sum;
        dot += p[row * keys + i]! * dp[row * keys + i]!;
      });
      for (let i = 0; i < keys; i++) ds[row * keys + i] = (p[row * keys + i]! * (dp[row * keys + i]! - dot)) / 12;
    }
    expect(relativeError(m.read(3), p)).toBeLessThan(TOLERANCE);
    expect(relativeError(m.read(4), ds)).toBeLessThan(TOLERANCE * 10);
  });

  it('cross-entropy: per-row loss and (softmax − one-hot) · weight; a label outside the vocabulary is a RangeError', () => {
    const [rows, vocab] = [3, 5001];
    const logits = seeded(rows * vocab, 10, 15);
    const labels = new Int32Array([7, 0, 5000]);
    const weights = new Float32Array([0.5, 0, 0.25]);
    const m = layout([logits, labels, weights, new Float32Array(rows), new Float32Array(rows * vocab)]);
    const [ol, olab, ow, oloss, og] = m.offsets as number[];
    addon!.fused(m.memory, params([FusedOp.crossEntropy, rows, vocab, ol!, olab!, ow!, oloss!, og!]));
    const loss = new Float64Array(rows);
    const grad = new Float64Array(rows * vocab);
    for (let r = 0; r < rows; r++) {
      const row = Array.from(logits.subarray(r * vocab, (r + 1) * vocab));
      const maximum = Math.max(...row);
      const sum = row.reduce((total, v) => total + Math.exp(v - maximum), 0);
      loss[r] = Math.log(sum) - (row[labels[r]!]! - maximum);
      row.forEach((v, i) => {
        grad[r * vocab + i] = (Math.exp(v - maximum) / sum - (i === labels[r] ? 1 : 0)) * weights[r]!;
      });
    }
    expect(relativeError(m.read(3), loss)).toBeLessThan(TOLERANCE);
    expect(relativeError(m.read(4), grad)).toBeLessThan(TOLERANCE);
    new Int32Array(m.memory.buffer, olab, rows)[1] = vocab;
    expect(() => addon!.fused(m.memory, params([FusedOp.crossEntropy, rows, vocab, ol!, olab!, ow!, oloss!, -1]))).toThrow(/label is outside the vocabulary/);
  });

  it('rotary forward and its transpose are adjoint (⟨R x, y⟩ = ⟨x, Rᵀ y⟩)', () => {
    const [batch, heads, seq, dim] = [2, 3, 4, 8];
    const size = batch * heads * seq * dim;
    const x = seeded(size, 11);
    const y = seeded(size, 12);
    const cos = seeded(seq * dim, 13);
    const sin = seeded(seq * dim, 14);
    const m = layout([x, y, cos, sin, new Float32Array(size), new Float32Array(size)]);
    const [ox, oy, oc, os, orx, orty] = m.offsets as number[];
    addon!.fused(m.memory, params([FusedOp.rotary, batch, heads, seq, dim, 1, ox!, oc!, os!, orx!, 0]));
    addon!.fused(m.memory, params([FusedOp.rotary, batch, heads, seq, dim, 1, oy!, oc!, os!, orty!, 1]));
    const [rx, rty] = [m.read(4), m.read(5)];
    let left = 0;
    let right = 0;
    for (let i = 0; i < size; i++) {
      left += rx[i]! * y[i]!;
      right += x[i]! * rty[i]!;
    }
    expect(Math.abs(left - right)).toBeLessThan(1e-4);
    // And the forward itself: x·cos + rotate_half(x)·sin at one element of each half.
    const half = dim / 2;
    expect(rx[1]).toBeCloseTo(x[1]! * cos[1]! - x[1 + half]! * sin[1]!, 6);
    expect(rx[half + 1]).toBeCloseTo(x[half + 1]! * cos[half + 1]! + x[1]! * sin[half + 1]!, 6);
  });

  it('rejects operands outside the memory and unknown operations with RangeErrors', () => {
    const m = layout([new Float32Array(16)]);
    expect(() => addon!.fused(m.memory, params([FusedOp.swiglu, 16, m.offsets[0]!, m.offsets[0]!, m.memory.length]))).toThrow(/outside the memory/);
    expect(() => addon!.fused(m.memory, params([99, 1]))).toThrow(/unknown operation/);
  });
});
