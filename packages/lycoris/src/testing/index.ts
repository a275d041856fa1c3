import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { ConformanceCase } from '@peftjs/core/testing';

const initializer = (seed: number) => tfl.initializers.randomNormal({ mean: 0, stddev: 0.4, seed });

/** Dense 6 → 8 (relu inside the layer) → 8 → 3, on `[batch, 6]` or `[batch, seq, 6]` inputs. */
export function lycorisMlp(): tfl.LayersModel {
  const x = tfl.input({ shape: [6] });
  let h = tfl.layers.dense({ units: 8, activation: 'relu', name: 'lin0', kernelInitializer: initializer(1), biasInitializer: initializer(2) }).apply(x) as tfl.SymbolicTensor;
  h = tfl.layers.dense({ units: 8, name: 'lin1', kernelInitializer: initializer(3), biasInitializer: initializer(4) }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.activation({ activation: 'relu', name: 'relu1' }).apply(h) as tfl.SymbolicTensor;
  const y = tfl.layers.dense({ units: 3, useBias: false, name: 'lin2', kernelInitializer: initializer(5) }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: y });
}

export const lycorisMlpInputs = (): tf.Tensor => tf.randomNormal([4, 6], 0, 1, 'float32', 3);

/** Conv2D 3×3 stride 2 same (relu), 3×3 same, 1×1 valid, then a Dense head; NHWC `[batch, 6, 6, 2]`. */
export function lycorisConvNet(): tfl.LayersModel {
  // Small weights: LoKr's unscaled Kronecker deltas of perturbed factors must not blow up SGD.
  const initializer = (seed: number) => tfl.initializers.randomNormal({ mean: 0, stddev: 0.15, seed });
  const x = tfl.input({ shape: [6, 6, 2] });
  let h = tfl.layers
    .conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'conv', kernelInitializer: initializer(11), biasInitializer: initializer(12) })
    .apply(x) as tfl.SymbolicTensor;
  h = tfl.layers
    .conv2d({ filters: 6, kernelSize: 3, padding: 'same', name: 'conv1', kernelInitializer: initializer(13), biasInitializer: initializer(14) })
    .apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.conv2d({ filters: 4, kernelSize: 1, name: 'pointwise', kernelInitializer: initializer(15), biasInitializer: initializer(16) }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.flatten({ name: 'flat' }).apply(h) as tfl.SymbolicTensor;
  const y = tfl.layers.dense({ units: 2, name: 'head', kernelInitializer: initializer(17) }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: y });
}

export const lycorisConvInputs = (): tf.Tensor => tf.randomNormal([3, 6, 6, 2], 0, 0.5, 'float32', 7);

/** The conformance cases every LyCORIS method runs (Dense, Conv2D, both Conv2D forms, patterns, dropouts). */
export function lycorisConformanceCases(): ConformanceCase[] {
  return [
    { name: 'Dense (with activation), list targets', makeModel: lycorisMlp, makeInputs: lycorisMlpInputs, config: { r: 2, alpha: 4, target_modules: ['lin0', 'lin1'] } },
    {
      name: 'Dense, regex targets, rank/alpha patterns, two adapters',
      makeModel: lycorisMlp,
      makeInputs: lycorisMlpInputs,
      config: { r: 4, alpha: 2, target_modules: 'lin[0-2]', rank_pattern: { lin1: 2 }, alpha_pattern: { lin2: 3 } },
      otherConfig: { r: 3, alpha: 6, target_modules: ['lin1', 'lin2'] },
    },
    {
      name: 'Dense, rank_dropout + module_dropout + modules_to_save',
      makeModel: lycorisMlp,
      makeInputs: lycorisMlpInputs,
      config: { r: 2, target_modules: ['lin0', 'lin1'], rank_dropout: 0.5, module_dropout: 0.1, modules_to_save: ['lin2'] },
      otherConfig: { r: 2, target_modules: ['lin1'], modules_to_save: ['lin2'] },
    },
    {
      name: 'Conv2D (stride, same, 1×1) + Dense',
      makeModel: lycorisConvNet,
      makeInputs: lycorisConvInputs,
      config: { r: 2, alpha: 1, target_modules: ['conv', 'conv1', 'pointwise', 'head'] },
    },
    {
      name: 'Conv2D, effective form',
      makeModel: lycorisConvNet,
      makeInputs: lycorisConvInputs,
      config: { r: 2, alpha: 3, target_modules: ['conv', 'conv1', 'pointwise'], use_effective_conv2d: true },
    },
  ];
}
export { describeConvReference } from './conv-reference';
