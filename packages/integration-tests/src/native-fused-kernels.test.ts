import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attentionOp,
  chunkedCrossEntropy,
  geluTanhOp,
  layerNormOp,
  NativeFusedKernel,
  rmsNormOp,
  rotaryOp,
  STORE_GATHER_KERNEL,
  STORE_MAT_MUL_KERNEL,
  swigluOp,
  weightProjection,
} from '@peftjs/models';
import { initBackend, registeredWasmFixes, registerWasmFixes, unregisterWasmFixes, WasmFix } from '@peftjs/runtime';

// Each native fused kernel (wasm with @peftjs/native) against the tfjs composition it replaces,
// on the same backend with the kernels unregistered: value and every input's gradient.
let native = false;

beforeAll(async () => {
  const report = await initBackend({ backend: 'wasm', wasmThreads: 1 });
  native = report.native?.available === true;
  if (!native) console.warn(`native fused kernel tests skipped: ${report.native?.reason}`);
});
afterAll(async () => {
  registerWasmFixes();
  await tf.setBackend('cpu');
});

type Fn = (...inputs: tf.Tensor[]) => tf.Tensor;

function valueAndGradients(fn: Fn, inputs: tf.Tensor[], dy: tf.Tensor): tf.Tensor[] {
  const value = tf.tidy(() => fn(...inputs));
  return [value, ...tf.grads(fn)(inputs, dy)];
}

async function maxRelativeDifference(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  expect(a.shape).toEqual(b.shape);
  const [x, y] = [await a.data(), await b.data()];
  let scale = 0;
  for (const value of y) scale = Math.max(scale, Math.abs(value));
  let worst = 0;
  for (let index = 0; index < x.length; index++) worst = Math.max(worst, Math.abs(x[index]! - y[index]!));
  return worst / Math.max(scale, 1e-30);
}

/**
 * The fused op with the native kernels registered, then without (the tfjs composition on wasm):
 * value and gradients agree within `tolerance` relative to each result's largest magnitude. The
 * kernels run in float32 like tfjs but sum in float64 and use their own exp, so they differ from
 * tfjs' float32 chains by rounding: a few float32 ulps (1e-7) per op, 1e-5 with margin.
 */
async function expectNativeMatchesComposition(fn: Fn, inputs: tf.Tensor[], kernel: string, tolerance = 1e-5): Promise<void> {
  const before = tf.memory().numTensors;
  const dy = tf.tidy(() => tf.randomNormal(fn(...inputs).shape, 0, 1, 'float32', 9));
  const calls = countCalls(kernel);
  const fused = valueAndGradients(fn, inputs, dy);
  expect(calls.stop()).toBeGreaterThan(0);
  unregisterWasmFixes({ fixes: [WasmFix.nativeFused] });
  const fallbackCalls = countCalls(kernel);
  const composed = valueAndGradients(fn, inputs, dy);
  expect(fallbackCalls.stop()).toBe(0);
  registerWasmFixes({ fixes: [WasmFix.nativeFused] });
  for (let index = 0; index < fused.length; index++) {
    expect(await maxRelativeDifference(fused[index]!, composed[index]!), `output ${index}`).toBeLessThan(tolerance);
  }
  tf.dispose([dy, ...fused, ...composed]);
  expect(tf.memory().numTensors).toBe(before);
}

/** Counts calls of a wasm kernel while registered (0 when it is not). */
function countCalls(kernelName: string): { stop(): number } {
  const config = tf.getKernel(kernelName, 'wasm');
  let calls = 0;
  if (config === undefined) return { stop: () => 0 };
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({
    ...config,
    kernelFunc: (args) => {
      calls++;
      return config.kernelFunc(args);
    },
  });
  return {
    stop() {
      tf.unregisterKernel(kernelName, 'wasm');
      tf.registerKernel(config);
      return calls;
    },
  };
}

describe('native fused kernels equal the tfjs composition on wasm, value and gradients', () => {
  // models names the kernels it runs and runtime registers them; neither package imports the other,
  // so the names are a contract checked here.
  it('every kernel models runs is one runtime registers', ({ skip }) => {
    if (!native) skip();
    for (const name of [...Object.values(NativeFusedKernel), STORE_MAT_MUL_KERNEL, STORE_GATHER_KERNEL]) {
      expect(tf.getKernel(name, 'wasm'), name).toBeDefined();
    }
  });
  it('RMSNorm', async ({ skip }) => {
    if (!native) skip();
    const x = tf.randomNormal([3, 7, 576], 0, 2, 'float32', 4);
    const weight = tf.randomNormal([576], 1, 0.3, 'float32', 5);
    await expectNativeMatchesComposition((input, scale) => rmsNormOp(input!, scale!, 1e-5), [x, weight], NativeFusedKernel.rmsNorm);
    tf.dispose([x, weight]);
  });

  it('LayerNorm (with scale and offset, and without)', async ({ skip }) => {
    if (!native) skip();
    const x = tf.randomNormal([2, 9, 768], 0.5, 2, 'float32', 1);
    const gamma = tf.randomNormal([768], 1, 0.3, 'float32', 2);
    const beta = tf.randomNormal([768], 0, 0.3, 'float32', 3);
    await expectNativeMatchesComposition((input, scale, offset) => layerNormOp(input!, scale!, offset!, 1e-5), [x, gamma, beta], NativeFusedKernel.layerNorm);
    await expectNativeMatchesComposition((input) => layerNormOp(input!, null, null, 1e-5), [x], NativeFusedKernel.layerNorm);
    tf.dispose([x, gamma, beta]);
  });

  it('SwiGLU and tanh-GELU', async ({ skip }) => {
    if (!native) skip();
    // Wide gates reach the exp's clamped ends (±88) and the saturated sigmoid.
    const gate = tf.concat([tf.randomNormal([2, 5, 8], 0, 3, 'float32', 6), tf.tile(tf.tensor3d([[[-120, -90, -20, 0, 20, 90, 120, 1e-3]]]), [2, 1, 1])], 1);
    const up = tf.randomNormal(gate.shape, 0, 1, 'float32', 7);
    await expectNativeMatchesComposition((g, u) => swigluOp(g!, u!), [gate, up], NativeFusedKernel.swiglu);
    await expectNativeMatchesComposition((x) => geluTanhOp(x!), [up], NativeFusedKernel.geluTanh);
    tf.dispose([gate, up]);
  });

  it('rotary embedding (cos / sin for one batch entry, and per entry)', async ({ skip }) => {
    if (!native) skip();
    const x = tf.randomNormal([2, 3, 5, 64], 0, 1, 'float32', 8);
    for (const tableBatch of [1, 2]) {
      const angles = tf.randomUniform([tableBatch, 1, 5, 64], 0, 6, 'float32', 9);
      const [cos, sin] = [tf.cos(angles), tf.sin(angles)];
      await expectNativeMatchesComposition((input) => rotaryOp(input!, cos, sin), [x], NativeFusedKernel.rotary);
      tf.dispose([angles, cos, sin]);
    }
    x.dispose();
  });

  it('attention softmax (grouped-query heads, causal mask with padding, two divisors)', async ({ skip }) => {
    if (!native) skip();
    const [batch, kvHeads, groups, seq, headDim] = [2, 2, 3, 33, 16];
    const q = tf.randomNormal([batch, kvHeads, groups * seq, headDim], 0, 1, 'float32', 11);
    const k = tf.randomNormal([batch, kvHeads, seq, headDim], 0, 1, 'float32', 12);
    const v = tf.randomNormal([batch, kvHeads, seq, headDim], 0, 1, 'float32', 13);
    const bias = tf.tidy(() => {
      const causal = tf.linalg.bandPart(tf.ones([seq, seq]), -1, 0);
      const padding = tf.pad(
        tf.concat([tf.zeros([1, 3]), tf.ones([1, seq - 3])], 1),
        [
          [1, 0],
          [0, 0],
        ],
        1,
      );
      const allowed = tf.mul(tf.reshape(causal, [1, 1, seq, seq]), tf.reshape(padding, [batch, 1, 1, seq]));
      return tf.mul(tf.sub(1, allowed), -1e9);
    });
    await expectNativeMatchesComposition((query, key, value) => attentionOp(query!, key!, value!, bias, kvHeads * groups, [4, 1.5]), [q, k, v], NativeFusedKernel.attentionSoftmax);
    tf.dispose([q, k, v, bias]);
  });

  it('chunked cross-entropy (ignored labels, several chunks)', async ({ skip }) => {
    if (!native) skip();
    const [rows, hidden, vocab] = [37, 24, 1000];
    const hiddenRows = tf.randomNormal([rows, hidden], 0, 1, 'float32', 14);
    const weight = tf.randomNormal([vocab, hidden], 0, 0.5, 'float32', 15);
    const labels = tf.tensor1d(
      Array.from({ length: rows }, (_, index) => (index % 5 === 2 ? -100 : (index * 7919) % vocab)),
      'int32',
    );
    const head = weightProjection(weight, 'vocab-major');
    await expectNativeMatchesComposition((input) => chunkedCrossEntropy(input as tf.Tensor2D, labels, head, { chunkRows: 10 }), [hiddenRows], NativeFusedKernel.crossEntropy);
    tf.dispose([hiddenRows, weight, labels]);
  });

  it('Transpose keeping the last axis last copies rows natively; other permutations fall back; same values, exactly', async ({ skip }) => {
    if (!native) skip();
    expect(registeredWasmFixes()).toContain(WasmFix.nativeTranspose);
    const x = tf.randomNormal([2, 5, 3, 7, 4], 0, 1, 'float32', 16);
    for (const perm of [
      [0, 2, 1, 3, 4],
      [3, 1, 0, 2, 4],
      [4, 3, 2, 1, 0],
      [1, 0, 2, 3, 4],
    ]) {
      const fast = tf.transpose(x, perm);
      unregisterWasmFixes({ fixes: [WasmFix.nativeTranspose] });
      const stock = tf.transpose(x, perm);
      registerWasmFixes({ fixes: [WasmFix.nativeTranspose] });
      expect(fast.shape).toEqual(stock.shape);
      expect(Array.from(await fast.data())).toEqual(Array.from(await stock.data()));
      tf.dispose([fast, stock]);
    }
    const ints = tf.tensor3d([1, 2, 3, 4, 5, 6], [1, 3, 2], 'int32');
    const swapped = tf.transpose(ints, [1, 0, 2]);
    expect(Array.from(await swapped.data())).toEqual([1, 2, 3, 4, 5, 6]);
    tf.dispose([x, ints, swapped]);
  });
});
