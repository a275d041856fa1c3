import '@tensorflow/tfjs-backend-cpu';

import * as tf from '@tensorflow/tfjs-core';
// Registers tfjs-core's gradients.
import '@tensorflow/tfjs-layers';
import { afterAll, describe, expect, it } from 'vitest';

import { disableLeanBackprop, enableLeanBackprop, isLeanBackpropEnabled } from './lean-backprop';

afterAll(() => {
  disableLeanBackprop();
});

/** A small network with pass-through gradients (identity, reshape), shared inputs and a custom gradient. */
function loss(x: tf.Tensor, w: tf.Variable, b: tf.Variable): tf.Scalar {
  const square = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    save([input]);
    return { value: tf.square(input), gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(dy, tf.mul(saved[0]!, 2)) };
  });
  const hidden = tf.relu(tf.add(tf.matMul(x, w), b));
  const twice = tf.add(hidden, tf.clone(hidden));
  const shaped = tf.reshape(square(twice), [-1]);
  return tf.mean(tf.add(shaped, tf.sum(tf.mul(w, w)))) as tf.Scalar;
}

describe('lean backprop', () => {
  it('gives tfjs-core’s gradients and leaves no tensors behind', async () => {
    await tf.setBackend('cpu');
    const x = tf.randomNormal([4, 3], 0, 1, 'float32', 1);
    const w = tf.variable(tf.randomNormal([3, 5], 0, 1, 'float32', 2));
    const b = tf.variable(tf.randomNormal([5], 0, 1, 'float32', 3));
    disableLeanBackprop();
    expect(isLeanBackpropEnabled()).toBe(false);
    const before = tf.memory().numTensors;
    const stock = tf.variableGrads(() => loss(x, w, b), [w, b]);
    enableLeanBackprop();
    expect(isLeanBackpropEnabled()).toBe(true);
    const lean = tf.variableGrads(() => loss(x, w, b), [w, b]);
    expect(await lean.value.data()).toEqual(await stock.value.data());
    for (const name of [w.name, b.name]) expect(await lean.grads[name]!.data()).toEqual(await stock.grads[name]!.data());
    tf.dispose([stock.value, lean.value, ...Object.values(stock.grads), ...Object.values(lean.grads)]);
    expect(tf.memory().numTensors).toBe(before);
    // A gradient of x alone, with a given dy, and a nested gradient inside a custom gradient.
    const dy = tf.scalar(3);
    const grad = tf.grad((input: tf.Tensor) => loss(input, w, b))(x, dy);
    expect(grad.shape).toEqual([4, 3]);
    expect(dy.isDisposed).toBe(false);
    tf.dispose([grad, dy]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w, b]);
  });
});
