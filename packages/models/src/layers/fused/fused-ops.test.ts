import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// Registers tfjs-core's gradients (the references below are differentiated op by op).
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
// wasm is covered by @peftjs/integration-tests (with runtime's fixes: stock wasm copies every saved tensor).
import { geluTanhOp, swigluOp } from './gated-activation-op';
import { attentionOp } from './attention-op';
import { layerNormOp } from './layer-norm-op';
import { rmsNormOp } from './rms-norm-op';
import { rotaryOp } from './rotary-op';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

type Fn = (...inputs: tf.Tensor[]) => tf.Tensor;

/** Value and every input's gradient of `fused` equal those of `reference` (the op-by-op composition). */
async function expectSameValueAndGradients(fused: Fn, reference: Fn, inputs: tf.Tensor[], tolerance = 1e-5): Promise<void> {
  const before = tf.memory().numTensors;
  const dy = tf.tidy(() => tf.randomNormal(fused(...inputs).shape, 0, 1, 'float32', 9));
  const actual = tf.grads(fused)(inputs, dy);
  const expected = tf.grads(reference)(inputs, dy);
  const values = tf.tidy(() => [fused(...inputs), reference(...inputs)]);
  for (const [a, b] of [values as [tf.Tensor, tf.Tensor], ...actual.map((gradient, index) => [gradient, expected[index]!] as [tf.Tensor, tf.Tensor])]) {
    expect(a.shape).toEqual(b.shape);
    const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
    expect((await difference.data())[0]).toBeLessThan(tolerance);
    difference.dispose();
  }
  tf.dispose([dy, ...actual, ...expected, ...values]);
  expect(tf.memory().numTensors).toBe(before);
}

describe.each(['cpu'])('fused ops on %s equal their composition, forward and gradient', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });

  it('LayerNorm (with and without scale / offset)', async () => {
    const x = tf.randomNormal([2, 5, 8], 0.5, 2, 'float32', 1);
    const gamma = tf.randomNormal([8], 1, 0.3, 'float32', 2);
    const beta = tf.randomNormal([8], 0, 0.3, 'float32', 3);
    const reference = (input: tf.Tensor, scale?: tf.Tensor, offset?: tf.Tensor) => {
      const { mean, variance } = tf.moments(input, -1, true);
      let y = tf.div(tf.sub(input, mean), tf.sqrt(tf.add(variance, 1e-5)));
      if (scale) y = tf.mul(y, scale);
      if (offset) y = tf.add(y, offset);
      return y;
    };
    await expectSameValueAndGradients((input, scale, offset) => layerNormOp(input!, scale!, offset!, 1e-5), reference as Fn, [x, gamma, beta]);
    await expectSameValueAndGradients(
      (input) => layerNormOp(input!, null, null, 1e-5),
      (input) => reference(input!),
      [x],
    );
    tf.dispose([x, gamma, beta]);
  });

  it('RMSNorm', async () => {
    const x = tf.randomNormal([3, 4, 8], 0, 2, 'float32', 4);
    const weight = tf.randomNormal([8], 1, 0.3, 'float32', 5);
    const reference = (input: tf.Tensor, scale: tf.Tensor) => tf.mul(scale, tf.mul(input, tf.rsqrt(tf.add(tf.mean(tf.square(input), -1, true), 1e-6))));
    await expectSameValueAndGradients((input, scale) => rmsNormOp(input!, scale!, 1e-6), reference as Fn, [x, weight]);
    tf.dispose([x, weight]);
  });

  it('rotary embedding (x gradient; cos and sin broadcast over heads)', async () => {
    const x = tf.randomNormal([2, 3, 5, 8], 0, 1, 'float32', 8);
    const angles = tf.randomUniform([2, 1, 5, 8], 0, 6, 'float32', 9);
    const cos = tf.cos(angles);
    const sin = tf.sin(angles);
    const reference = (input: tf.Tensor) => {
      const [first, second] = tf.split(input, 2, -1);
      return tf.add(tf.mul(input, cos), tf.mul(tf.concat([tf.neg(second!), first!], -1), sin));
    };
    await expectSameValueAndGradients((input) => rotaryOp(input!, cos, sin), reference as Fn, [x]);
    tf.dispose([x, angles, cos, sin]);
  });

  it('SwiGLU and tanh-GELU', async () => {
    const gate = tf.randomNormal([2, 3, 16], 0, 3, 'float32', 6);
    const up = tf.randomNormal([2, 3, 16], 0, 1, 'float32', 7);
    await expectSameValueAndGradients((g, u) => swigluOp(g!, u!), ((g: tf.Tensor, u: tf.Tensor) => tf.mul(tf.mul(g, tf.sigmoid(g)), u)) as Fn, [gate, up]);
    const reference = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3)))))));
    await expectSameValueAndGradients((x) => geluTanhOp(x!), reference as Fn, [gate], 2e-5);
    tf.dispose([gate, up]);
  });
});

describe.each(['cpu'])('attentionOp on %s', (backend) => {
  beforeAll(async () => {
    await tf.setBackend(backend);
  });

  it('equals softmax(q kᵀ / d + bias) v op by op, with grouped-query heads, in value and q/k/v gradients', async () => {
    const [batch, kvHeads, groups, seq, headDim] = [2, 2, 3, 5, 4];
    const q = tf.randomNormal([batch, kvHeads, groups * seq, headDim], 0, 1, 'float32', 11);
    const k = tf.randomNormal([batch, kvHeads, seq, headDim], 0, 1, 'float32', 12);
    const v = tf.randomNormal([batch, kvHeads, seq, headDim], 0, 1, 'float32', 13);
    // A causal mask with one padded key in the second row.
    const bias = tf.tidy(() => {
      const causal = tf.linalg.bandPart(tf.ones([seq, seq]), -1, 0);
      const padding = tf.tensor2d([
        [1, 1, 1, 1, 1],
        [0, 1, 1, 1, 1],
      ]);
      const allowed = tf.mul(tf.reshape(causal, [1, 1, seq, seq]), tf.reshape(padding, [batch, 1, 1, seq]));
      return tf.mul(tf.sub(1, allowed), -1e9);
    });
    const reference = (query: tf.Tensor, key: tf.Tensor, value: tf.Tensor) => {
      let scores = tf.div(tf.div(tf.matMul(query, key, false, true), 2), 1.5);
      scores = tf.add(tf.reshape(scores, [batch, kvHeads * groups, seq, seq]), bias);
      return tf.matMul(tf.reshape(tf.softmax(scores, -1), [batch, kvHeads, groups * seq, seq]), value);
    };
    await expectSameValueAndGradients((query, key, value) => attentionOp(query!, key!, value!, bias, kvHeads * groups, [2, 1.5]), reference as Fn, [q, k, v]);
    tf.dispose([q, k, v, bias]);
  });
});
