import '@tensorflow/tfjs-backend-cpu';

import * as tf from '@tensorflow/tfjs-core';
// Registers tfjs-core's gradients.
import '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';

import { scaleBy } from './constant-scale';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('scaleBy', () => {
  it('equals tf.mul by the factor in value and gradient, and keeps nothing for the backward pass', async () => {
    const before = tf.memory().numTensors;
    const x = tf.randomNormal([3, 4], 0, 1, 'float32', 1);
    const dy = tf.randomNormal([3, 4], 0, 1, 'float32', 2);
    // Tensors the tape keeps for the backward pass, read at the end of the recorded function.
    const engine = tf.engine() as unknown as { state: { activeTape: Array<{ saved?: tf.Tensor[] }> } };
    let saved = 0;
    const run = (scale: (input: tf.Tensor) => tf.Tensor) => {
      const { value, grad } = tf.valueAndGrad((input: tf.Tensor) => {
        const y = tf.sum(tf.mul(scale(tf.sin(input)), dy)) as tf.Scalar;
        saved = engine.state.activeTape.reduce((count, node) => count + (node.saved?.length ?? 0), 0);
        return y;
      })(x);
      return { tensors: [value, grad], saved };
    };
    const reference = run((input) => tf.mul(input, 2.5));
    const ours = run((input) => scaleBy(input, 2.5));
    expect(await ours.tensors[0]!.data()).toEqual(await reference.tensors[0]!.data());
    expect(await ours.tensors[1]!.data()).toEqual(await reference.tensors[1]!.data());
    expect(ours.saved).toBe(reference.saved - 2);
    tf.dispose([x, dy, ...reference.tensors, ...ours.tensors]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
