// Small Dense and Conv2D models with seeded weights, shared by the method packages' tests (OFT and
// BOFT wrap Linear and Conv2d layers the same way; IA3 uses the MLP).
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

const init = (seed: number, stddev = 0.5) => tfl.initializers.randomNormal({ mean: 0, stddev, seed });

/** Dense 6 → 10 → 10 → 3 with separate ReLU layers (torch-like). */
export function mlp(): tfl.LayersModel {
  const x = tfl.input({ shape: [6] });
  let h = tfl.layers.dense({ units: 10, name: 'lin0', kernelInitializer: init(1), biasInitializer: init(2) }).apply(x) as tfl.SymbolicTensor;
  h = tfl.layers.activation({ activation: 'relu', name: 'relu0' }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.dense({ units: 10, name: 'lin1', kernelInitializer: init(3), biasInitializer: init(4) }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.activation({ activation: 'relu', name: 'relu1' }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: tfl.layers.dense({ units: 3, name: 'lin2', kernelInitializer: init(5), biasInitializer: init(6) }).apply(h) as tfl.SymbolicTensor });
}

/** Dense layers with fused activations and no bias, on rank-3 inputs. */
export function sequenceMlp(): tfl.LayersModel {
  const x = tfl.input({ shape: [5, 8] });
  const h = tfl.layers.dense({ units: 8, name: 'proj', activation: 'tanh', kernelInitializer: init(11) }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: tfl.layers.dense({ units: 4, name: 'out', useBias: false, kernelInitializer: init(12) }).apply(h) as tfl.SymbolicTensor });
}

/** Conv2D (stride 2, same padding, relu) → Conv2D (valid) → flatten → Dense. */
export function convNet(): tfl.LayersModel {
  const x = tfl.input({ shape: [7, 7, 3] });
  let h = tfl.layers
    .conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'conv', kernelInitializer: init(7, 0.15), biasInitializer: init(8, 0.15) })
    .apply(x) as tfl.SymbolicTensor;
  h = tfl.layers.conv2d({ filters: 4, kernelSize: 2, name: 'conv1', kernelInitializer: init(9, 0.15), biasInitializer: init(10, 0.15) }).apply(h) as tfl.SymbolicTensor;
  const flat = tfl.layers.flatten({ name: 'flat' }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: tfl.layers.dense({ units: 2, name: 'head', kernelInitializer: init(13, 0.15) }).apply(flat) as tfl.SymbolicTensor });
}

export const mlpInputs = () => tf.randomNormal([4, 6], 0, 1, 'float32', 21);
export const sequenceInputs = () => tf.randomNormal([2, 5, 8], 0, 1, 'float32', 22);
export const convInputs = () => tf.randomNormal([2, 7, 7, 3], 0, 1, 'float32', 23);
