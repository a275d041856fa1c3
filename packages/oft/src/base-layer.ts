import * as tf from '@tensorflow/tfjs-core';
import type { layers, LayerVariable } from '@tensorflow/tfjs-layers';
import { AdapterStateError, getLayerFormat, isLinearLayerClass, TunerLayer } from '@peftjs/core';

/** The layer a stack of tuner layers wraps (PEFT's get_base_layer()): where the weights live. */
export function innermostLayer(layer: layers.Layer): layers.Layer {
  let current = layer;
  while (TunerLayer.isTunerLayer(current)) current = current.baseLayer;
  return current;
}

/**
 * What kind of torch module a tfjs layer stands for: 'linear' for Dense and every linear class
 * stored as torch Linear (kernel `[in, out]` = weightᵀ), 'conv2d' for Conv2D. GPT-2's Conv1D
 * (weight already `[in, out]`) is neither: OFT and BOFT do not wrap it in PEFT 0.11.1.
 */
export function torchModuleKind(layer: layers.Layer): 'linear' | 'conv2d' | undefined {
  const className = layer.getClassName();
  if (className === 'Dense') return 'linear';
  if (className === 'Conv2D') return 'conv2d';
  if (!isLinearLayerClass(className)) return undefined;
  const rule = Object.values(getLayerFormat(className)?.weights ?? {}).find((entry) => entry.torchName === 'weight');
  const permutation = rule?.toTorchPermutation;
  return permutation && permutation.length === 2 && permutation[0] === 1 && permutation[1] === 0 ? 'linear' : undefined;
}

function localName(variable: LayerVariable): string {
  const name = variable.originalName ?? variable.name;
  return name.slice(name.lastIndexOf('/') + 1);
}

/** A weight by its tfjs name (`kernel`, `bias`), tolerating tfjs' `_1` suffixes. */
export function findWeight(layer: layers.Layer, name: string): LayerVariable | undefined {
  const weights = layer.weights;
  return weights.find((variable) => localName(variable) === name) ?? weights.find((variable) => localName(variable).replace(/_\d+$/, '') === name);
}

export function requireKernel(layer: layers.Layer, rank: number): LayerVariable {
  const variable = findWeight(layer, 'kernel') ?? layer.weights.find((candidate) => candidate.shape.length === rank);
  if (!variable || variable.shape.length !== rank) {
    throw new AdapterStateError(`layer "${layer.name}" (${layer.getClassName()}) has no rank-${rank} "kernel" weight; build the layer before adapting it`);
  }
  return variable;
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

export interface ConvSettings {
  strides: [number, number];
  padding: 'same' | 'valid';
  dilation: [number, number];
}

function pair(value: unknown, fallback: number): [number, number] {
  if (Array.isArray(value)) return [Number(value[0] ?? fallback), Number(value[1] ?? value[0] ?? fallback)];
  if (typeof value === 'number') return [value, value];
  return [fallback, fallback];
}

export function convSettings(layer: layers.Layer): ConvSettings {
  const config = layer.getConfig();
  return { strides: pair(config.strides, 1), padding: config.padding === 'same' ? 'same' : 'valid', dilation: pair(config.dilationRate, 1) };
}

/** Why a Conv2D cannot be wrapped (channels-first data, causal padding), or undefined. */
export function conv2dProblem(layer: layers.Layer): string | undefined {
  const config = layer.getConfig();
  if (config.dataFormat === 'channelsFirst') return 'dataFormat "channelsFirst" (only channelsLast Conv2D is supported)';
  if (config.padding === 'causal') return 'padding "causal"';
  return undefined;
}

/** The activation a tfjs Dense / Conv2D applies after its bias (undefined when linear). */
export function layerActivation(layer: layers.Layer): ((outputs: tf.Tensor) => tf.Tensor) | undefined {
  const activation = (layer as unknown as { activation?: { apply(outputs: tf.Tensor): tf.Tensor; getClassName?(): string } | null }).activation;
  if (!activation || activation.getClassName?.() === 'linear') return undefined;
  return (outputs) => activation.apply(outputs);
}
