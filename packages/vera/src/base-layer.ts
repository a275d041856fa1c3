import * as tf from '@tensorflow/tfjs-core';
import type { layers, LayerVariable } from '@tensorflow/tfjs-layers';

function localName(variable: LayerVariable): string {
  const name = variable.originalName ?? variable.name;
  return name.slice(name.lastIndexOf('/') + 1);
}

/** A weight by its tfjs name (`kernel`, `bias`), tolerating tfjs' `_1` suffixes. */
export function findWeight(layer: layers.Layer, name: string): LayerVariable | undefined {
  const weights = layer.weights;
  return weights.find((variable) => localName(variable) === name) ?? weights.find((variable) => localName(variable).replace(/_\d+$/, '') === name);
}

export function findBias(layer: layers.Layer): LayerVariable | undefined {
  const bias = findWeight(layer, 'bias');
  return bias && bias.shape.length === 1 ? bias : undefined;
}

/** x·W over the last axis of x, for inputs of any rank >= 2. */
export function matMulLastAxis(inputs: tf.Tensor, matrix: tf.Tensor): tf.Tensor {
  if (inputs.rank === 2) return tf.matMul(inputs as tf.Tensor2D, matrix as tf.Tensor2D);
  const last = inputs.shape[inputs.rank - 1]!;
  const product = tf.matMul(tf.reshape(inputs, [-1, last]) as tf.Tensor2D, matrix as tf.Tensor2D);
  return tf.reshape(product, [...inputs.shape.slice(0, -1), matrix.shape[matrix.rank - 1]!]);
}

/** The activation a tfjs Dense / Conv2D applies after its bias (undefined when linear). */
export function layerActivation(layer: layers.Layer): ((outputs: tf.Tensor) => tf.Tensor) | undefined {
  const activation = (layer as unknown as { activation?: { apply(outputs: tf.Tensor): tf.Tensor; getClassName?(): string } | null }).activation;
  if (!activation || activation.getClassName?.() === 'linear') return undefined;
  return (outputs) => activation.apply(outputs);
}
