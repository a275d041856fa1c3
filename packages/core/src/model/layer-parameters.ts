import * as tf from '@tensorflow/tfjs-core';
import type { layers, LayerVariable } from '@tensorflow/tfjs-layers';
import type { ParamRef } from '../spec/param-ref';
import { globalRegistry } from '../util/global-registry';

/**
 * How one tfjs layer class names and lays out its weights in torch terms. `weights` maps the
 * tfjs weight name (the part after the last '/', e.g. `kernel`) to the torch parameter name and
 * the permutation from the tfjs layout to torch's.
 */
export interface LayerFormat {
  readonly weights: Readonly<Record<string, { torchName: string; toTorchPermutation?: readonly number[] }>>;
}

const formats = globalRegistry('layerFormats', () => new Map<string, LayerFormat>());

/** Registers (or replaces) the torch naming of a layer class, e.g. a GPT-2 `Conv1D` whose kernel is already `[in, out]`. */
export function registerLayerFormat(className: string, format: LayerFormat): void {
  formats.set(className, format);
}

export function getLayerFormat(className: string): LayerFormat | undefined {
  return formats.get(className);
}

const TRANSPOSE_2D = [1, 0] as const;
registerLayerFormat('Dense', { weights: { kernel: { torchName: 'weight', toTorchPermutation: TRANSPOSE_2D }, bias: { torchName: 'bias' } } });
registerLayerFormat('Conv2D', { weights: { kernel: { torchName: 'weight', toTorchPermutation: [3, 2, 0, 1] }, bias: { torchName: 'bias' } } });
registerLayerFormat('Conv1D', { weights: { kernel: { torchName: 'weight', toTorchPermutation: [2, 1, 0] }, bias: { torchName: 'bias' } } });
registerLayerFormat('Embedding', { weights: { embeddings: { torchName: 'weight' } } });
registerLayerFormat('LayerNormalization', { weights: { gamma: { torchName: 'weight' }, beta: { torchName: 'bias' } } });
registerLayerFormat('BatchNormalization', {
  weights: {
    gamma: { torchName: 'weight' },
    beta: { torchName: 'bias' },
    moving_mean: { torchName: 'running_mean' },
    moving_variance: { torchName: 'running_var' },
  },
});

function invert(permutation: readonly number[]): number[] {
  const inverse = new Array<number>(permutation.length);
  permutation.forEach((axis, index) => {
    inverse[axis] = index;
  });
  return inverse;
}

/** A ParamRef for a variable whose torch layout is its tfjs layout permuted by `toTorchPermutation`. */
export function permutedParam(variable: LayerVariable, toTorchPermutation?: readonly number[]): ParamRef {
  const shape = variable.shape as number[];
  if (!toTorchPermutation) {
    return { variable, torchShape: [...shape], toTorch: (value) => value.clone(), fromTorch: (value) => value.clone() };
  }
  const back = invert(toTorchPermutation);
  return {
    variable,
    torchShape: toTorchPermutation.map((axis) => shape[axis]!),
    toTorch: (value) => tf.transpose(value, [...toTorchPermutation]),
    fromTorch: (value) => tf.transpose(value, back),
  };
}

/** The weight's own name: `lin0/kernel` → `kernel` (tfjs may append `_1` to keep variable names unique). */
function localWeightName(variable: LayerVariable): string {
  const name = variable.originalName ?? variable.name;
  return name.slice(name.lastIndexOf('/') + 1);
}

/** A plain layer's parameters under their torch names, in the layer's weight order. */
export function layerParameters(layer: layers.Layer): Map<string, ParamRef> {
  const format = formats.get(layer.getClassName());
  const result = new Map<string, ParamRef>();
  for (const variable of layer.weights) {
    let local = localWeightName(variable);
    const deduplicated = local.replace(/_\d+$/, '');
    if (format && !format.weights[local] && format.weights[deduplicated]) local = deduplicated;
    const rule = format?.weights[local];
    result.set(rule?.torchName ?? local, permutedParam(variable, rule?.toTorchPermutation));
  }
  return result;
}
