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

  it('saves nothing for Add, Sub, Reshape and ExpandDims, with the same gradients (broadcasting included)', async () => {
    await tf.setBackend('cpu');
    const x = tf.variable(tf.randomNormal([3, 4], 0, 1, 'float32', 4));
    const row = tf.variable(tf.randomNormal([4], 0, 1, 'float32', 5));
    // Tensors alive when the backward pass starts (counted by the first gradient to run).
    let liveAtBackward = 0;
    const probe = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const [input] = args as [tf.Tensor];
      return {
        value: tf.clone(input),
        gradFunc: (dy: tf.Tensor) => {
          liveAtBackward = tf.memory().numTensors;
          return tf.clone(dy);
        },
      };
    });
    const f = () => {
      const shifted = tf.sub(tf.add(x, row), tf.reshape(row, [1, 4]));
      const expanded = tf.expandDims(tf.reshape(tf.mul(shifted, shifted), [12]), 0);
      return probe(tf.sum(tf.add(expanded, tf.scalar(1)))) as tf.Scalar;
    };
    const run = () => {
      const result = tf.variableGrads(f, [x, row]);
      const live = liveAtBackward;
      const values = [result.value, result.grads[x.name]!, result.grads[row.name]!];
      return { values, live };
    };
    disableLeanBackprop();
    const before = tf.memory().numTensors;
    const stock = run();
    enableLeanBackprop();
    const lean = run();
    for (const [index, tensor] of lean.values.entries()) expect(await tensor.data()).toEqual(await stock.values[index]!.data());
    // Op by op the tape keeps x + row, both Sub inputs, the Reshape inputs and the last Add's; lean keeps only Mul's inputs.
    expect(lean.live).toBeLessThan(stock.live);
    tf.dispose([...stock.values, ...lean.values]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, row]);
  });

  it('frees what a custom gradient computes along the way as soon as that gradient is done', async () => {
    await tf.setBackend('cpu');
    const x = tf.variable(tf.randomNormal([4, 8], 0, 1, 'float32', 6));
    let liveAtLast = 0;
    // y = x·2, whose gradient makes four intermediates before its result.
    const double = (last: boolean) =>
      tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => ({
        value: tf.mul(args[0] as tf.Tensor, 2),
        gradFunc: (dy: tf.Tensor) => {
          if (last) liveAtLast = tf.memory().numTensors;
          return tf.add(tf.mul(tf.sub(tf.add(dy, 1), 1), 1), dy);
        },
      }));
    const f = () => {
      let y: tf.Tensor = double(true)(x);
      for (let index = 0; index < 10; index++) y = double(false)(y);
      return tf.sum(y) as tf.Scalar;
    };
    const run = () => {
      const result = tf.variableGrads(f, [x]);
      return { tensors: [result.value, result.grads[x.name]!], live: liveAtLast };
    };
    disableLeanBackprop();
    const before = tf.memory().numTensors;
    const stock = run();
    enableLeanBackprop();
    const lean = run();
    expect(await lean.tensors[1]!.data()).toEqual(await stock.tensors[1]!.data());
    // tfjs-core keeps the 10 later gradients' 4 intermediates each until the end.
    expect(stock.live - lean.live).toBeGreaterThanOrEqual(40);
    tf.dispose([...stock.tensors, ...lean.tensors]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});
