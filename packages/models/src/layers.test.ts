import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { isLinearLayerClass, layerParameters } from '@peftjs/core';
import { maxAbsDifference } from '@peftjs/core/testing';
import { AttentionMaskBias, GPT2Conv1D, LlamaRMSNorm, ScaledDotProductAttention, ropeInverseFrequencies } from './index';
import { Linear } from './layers/linear';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('Linear', () => {
  it('is a Dense (class name, torch format) with the same output, and skips frozen kernel gradients', async () => {
    const before = tf.memory().numTensors;
    const layer = new Linear({ units: 3, useBias: true, name: 'proj', biasInitializer: 'glorotNormal' });
    const reference = tfl.layers.dense({ units: 3, useBias: true, name: 'reference' });
    const x = tf.randomNormal([2, 4, 5], 0, 1, 'float32', 1);
    tf.dispose([layer.apply(x) as tf.Tensor, reference.apply(x) as tf.Tensor]);
    reference.setWeights(layer.getWeights());
    expect(layer.getClassName()).toBe('Dense');
    expect([...layerParameters(layer).keys()]).toEqual(['weight', 'bias']);
    const [ours, theirs] = [layer.apply(x) as tf.Tensor, reference.apply(x) as tf.Tensor];
    expect(await maxAbsDifference(ours, theirs)).toBeLessThan(1e-6);
    // The gradient for the input only: a frozen Linear runs one matmul for it, a stock Dense two.
    const matMuls = async (target: tfl.layers.Layer) => {
      const profile = await tf.profile(() => tf.dispose(tf.grad((input: tf.Tensor) => tf.sum(target.apply(input) as tf.Tensor))(x)));
      return profile.kernels.filter((kernel) => /MatMul/.test(kernel.name)).length;
    };
    expect(await matMuls(layer)).toBeLessThan(await matMuls(reference));
    tf.dispose([x, ours, theirs]);
    layer.dispose();
    reference.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('with frozen weights, gives the same value and input gradient and keeps nothing for the backward pass', async () => {
    const before = tf.memory().numTensors;
    const layer = new Linear({ units: 3, useBias: true, name: 'frozen', biasInitializer: 'glorotNormal' });
    const x = tf.randomNormal([2, 4, 5], 0, 1, 'float32', 2);
    const dy = tf.randomNormal([2, 4, 3], 0, 1, 'float32', 3);
    // Tensors alive when the backward pass starts (counted by the first gradient to run).
    let liveAtBackward = 0;
    const probe = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
      value: tf.clone(args[0] as tf.Tensor),
      gradFunc: (gradient: tf.Tensor) => {
        liveAtBackward = tf.memory().numTensors;
        return tf.clone(gradient);
      },
    }));
    const run = () => {
      const { value, grad } = tf.valueAndGrad((input: tf.Tensor) => tf.sum(tf.mul(probe(layer.apply(input) as tf.Tensor), dy)))(x);
      return { tensors: [value, grad], live: liveAtBackward };
    };
    const trainable = run();
    layer.trainable = false;
    const frozen = run();
    expect(await maxAbsDifference(frozen.tensors[0]!, trainable.tensors[0]!)).toBe(0);
    expect(await maxAbsDifference(frozen.tensors[1]!, trainable.tensors[1]!)).toBeLessThan(1e-6);
    // Op by op the tape keeps the input (for the kernel's gradient) and the product (for the bias add).
    expect(frozen.live).toBeLessThan(trainable.live);
    tf.dispose([x, dy, ...trainable.tensors, ...frozen.tensors]);
    layer.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('GPT2Conv1D is linear for all-linear and keeps the [in, out] torch layout', () => {
    const layer = new GPT2Conv1D({ units: 6, name: 'c_attn' });
    layer.apply(tfl.input({ shape: [null, 4] }));
    expect(isLinearLayerClass('GPT2Conv1D')).toBe(true);
    expect(layerParameters(layer).get('weight')!.torchShape).toEqual([4, 6]);
    layer.dispose();
  });
});

describe('attention layers', () => {
  it('grouped-query attention equals attention with each kv head repeated for its query heads', async () => {
    const before = tf.memory().numTensors;
    const [batch, seq, heads, kvHeads, headDim] = [2, 5, 4, 2, 3];
    const q = tf.randomNormal([batch, seq, heads * headDim], 0, 1, 'float32', 2);
    const k = tf.randomNormal([batch, seq, kvHeads * headDim], 0, 1, 'float32', 3);
    const v = tf.randomNormal([batch, seq, kvHeads * headDim], 0, 1, 'float32', 4);
    const ones = tf.ones([batch, seq]);
    const mask = new AttentionMaskBias({ name: 'mask', causal: true }).apply([ones, q]) as tf.Tensor;
    const grouped = new ScaledDotProductAttention({ name: 'gqa', numHeads: heads, numKeyValueHeads: kvHeads, headDim, scoreDivisors: [Math.sqrt(headDim)] });
    const full = new ScaledDotProductAttention({ name: 'mha', numHeads: heads, headDim, scoreDivisors: [Math.sqrt(headDim)] });
    const repeat = (x: tf.Tensor) =>
      tf.tidy(() => {
        const split = tf.reshape(x, [batch, seq, kvHeads, 1, headDim]);
        return tf.reshape(tf.tile(split, [1, 1, 1, heads / kvHeads, 1]), [batch, seq, heads * headDim]);
      });
    const [kr, vr] = [repeat(k), repeat(v)];
    const a = grouped.apply([q, k, v, mask]) as tf.Tensor;
    const b = full.apply([q, kr, vr, mask]) as tf.Tensor;
    expect(await maxAbsDifference(a, b)).toBeLessThan(1e-6);
    tf.dispose([q, k, v, ones, mask, kr, vr, a, b]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the mask bias is 0 where a query may attend and float32 min elsewhere (past, padding, window)', async () => {
    const before = tf.memory().numTensors;
    const inputs = [tf.tensor2d([[0, 1, 1, 1]]), tf.zeros([1, 2, 8])];
    const bias = new AttentionMaskBias({ name: 'mask', causal: true, slidingWindow: 2 }).apply(inputs) as tf.Tensor;
    const allowed = ((await bias.array()) as number[][][][])[0]![0]!.map((row) => row.map((value) => (value === 0 ? 1 : 0)));
    // Two past positions (0 masked as padding), queries at positions 2 and 3, window 2.
    expect(allowed).toEqual([
      [0, 1, 1, 0],
      [0, 0, 1, 1],
    ]);
    tf.dispose([bias, ...inputs]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('RMSNorm and the rope tables follow transformers', async () => {
    const before = tf.memory().numTensors;
    const norm = new LlamaRMSNorm({ name: 'norm', epsilon: 1e-6 });
    const x = tf.tensor2d([[1, 2, 3, 4]]);
    const y = norm.apply(x) as tf.Tensor;
    const rms = Math.sqrt((1 + 4 + 9 + 16) / 4 + 1e-6);
    expect(Array.from(await y.data()).map((value) => Number(value.toFixed(5)))).toEqual([1, 2, 3, 4].map((value) => Number((value / rms).toFixed(5))));
    tf.dispose([x, y]);
    norm.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(ropeInverseFrequencies(4, 10000))).toEqual([1, Math.fround(0.01)]);
    const llama3 = ropeInverseFrequencies(64, 500000, { ropeType: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
    const plain = ropeInverseFrequencies(64, 500000);
    expect(llama3[0]).toBe(plain[0]); // short wavelengths unchanged
    expect(llama3[31]).toBeCloseTo(plain[31]! / 8, 12); // long ones divided by the factor
  });
});
