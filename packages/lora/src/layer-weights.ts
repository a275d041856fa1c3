import * as tf from '@tensorflow/tfjs-core';
import type { layers, LayerVariable } from '@tensorflow/tfjs-layers';
import { AdapterStateError } from '@peftjs/core';

function localName(variable: LayerVariable): string {
  const name = variable.originalName ?? variable.name;
  return name.slice(name.lastIndexOf('/') + 1);
}

/** A base layer's weight by its tfjs name (`kernel`, `bias`, `embeddings`), tolerating tfjs' `_1` suffixes. */
export function findWeight(layer: layers.Layer, name: string): LayerVariable | undefined {
  const weights = layer.weights;
  return weights.find((variable) => localName(variable) === name) ?? weights.find((variable) => localName(variable).replace(/_\d+$/, '') === name);
}

export function requireWeight(layer: layers.Layer, name: string, rank: number): LayerVariable {
  const variable = findWeight(layer, name) ?? layer.weights.find((candidate) => candidate.shape.length === rank);
  if (!variable || variable.shape.length !== rank) {
    throw new AdapterStateError(`layer "${layer.name}" (${layer.getClassName()}) has no rank-${rank} "${name}" weight; build the layer before adapting it`);
  }
  return variable;
}

/** x·W over the last axis of x, for inputs of any rank >= 2. */
export function matMulLastAxis(inputs: tf.Tensor, kernel: tf.Tensor): tf.Tensor {
  if (inputs.rank === 2) return tf.matMul(inputs as tf.Tensor2D, kernel as tf.Tensor2D);
  const last = inputs.shape[inputs.rank - 1]!;
  const flat = tf.reshape(inputs, [-1, last]) as tf.Tensor2D;
  const product = tf.matMul(flat, kernel as tf.Tensor2D);
  return tf.reshape(product, [...inputs.shape.slice(0, -1), kernel.shape[kernel.rank - 1]!]);
}
