import * as tf from '@tensorflow/tfjs-core';
import { LayerVariable } from '@tensorflow/tfjs-layers';
import { permutedParam, type ParamRef } from '@peftjs/core';

/**
 * A variable whose saved name is pinned (tfjs may suffix `_1` to keep names unique; the name
 * weights are saved under stays the same), created from `value`, which is disposed.
 */
export function ownedVariable(value: tf.Tensor, name: string, trainable = true): LayerVariable {
  const variable = new LayerVariable(value, 'float32', name, trainable);
  value.dispose();
  if (variable.originalName !== name) (variable as { originalName: string }).originalName = name;
  return variable;
}

/** torch's nn.Embedding init: N(0, 1). */
export function embeddingInit(rows: number, dim: number): tf.Tensor {
  return tf.randomNormal([rows, dim], 0, 1, 'float32');
}

/** torch's nn.Linear / nn.LSTM init: U(-1/sqrt(fanIn), 1/sqrt(fanIn)) for weights and biases. */
export function uniformInit(shape: number[], fanIn: number): tf.Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  return tf.randomUniform(shape, -bound, bound, 'float32');
}

/** A torch Linear's weight, stored as a tfjs kernel `[in, out]` (torch `[out, in]`). */
export function kernelParam(variable: LayerVariable): ParamRef {
  return permutedParam(variable, [1, 0]);
}

export function plainParam(variable: LayerVariable): ParamRef {
  return permutedParam(variable);
}
