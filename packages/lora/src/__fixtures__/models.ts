import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

const initializer = (seed: number) => tfl.initializers.randomNormal({ mean: 0, stddev: 0.5, seed });

/** lin0 (relu) → lin1 (relu) → lin2, inputs [batch, 6]. */
export function mlp(): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 8, inputShape: [6], activation: 'relu', name: 'lin0', kernelInitializer: initializer(1), biasInitializer: initializer(2) }),
      tfl.layers.dense({ units: 8, activation: 'relu', name: 'lin1', kernelInitializer: initializer(3), biasInitializer: initializer(4) }),
      tfl.layers.dense({ units: 3, name: 'lin2', kernelInitializer: initializer(5), biasInitializer: initializer(6) }),
    ],
  });
}

export const mlpInputs = (seed = 3): tf.Tensor => tf.randomNormal([4, 6], 0, 1, 'float32', seed);

/** The same MLP on sequences: inputs [batch, 3, 6] (Dense on a rank-3 input). */
export function sequenceMlp(): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 8, inputShape: [3, 6], activation: 'tanh', name: 'proj', kernelInitializer: initializer(11), biasInitializer: initializer(12) }),
      tfl.layers.dense({ units: 4, name: 'out', kernelInitializer: initializer(13), biasInitializer: initializer(14) }),
    ],
  });
}

export const sequenceInputs = (seed = 5): tf.Tensor => tf.randomNormal([2, 3, 6], 0, 1, 'float32', seed);

/** conv (3×3, stride 2, same, relu) → conv1 (3×3, valid) → flatten → head; inputs NHWC [batch, 6, 6, 2]. */
export function convNet(): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        filters: 4,
        kernelSize: 3,
        strides: 2,
        padding: 'same',
        activation: 'relu',
        inputShape: [6, 6, 2],
        name: 'conv',
        kernelInitializer: initializer(21),
        biasInitializer: initializer(22),
      }),
      tfl.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'valid', name: 'conv1', kernelInitializer: initializer(23), biasInitializer: initializer(24) }),
      tfl.layers.flatten({ name: 'flatten' }),
      tfl.layers.dense({ units: 2, name: 'head', kernelInitializer: initializer(25), biasInitializer: initializer(26) }),
    ],
  });
}

export const convInputs = (seed = 7): tf.Tensor => tf.randomNormal([3, 6, 6, 2], 0, 1, 'float32', seed);

/** emb (vocab 12, dim 6) → flatten → lin; inputs int ids [batch, 5]. */
export function embeddingNet(): tfl.LayersModel {
  return tfl.sequential({
    layers: [
      tfl.layers.embedding({ inputDim: 12, outputDim: 6, inputLength: 5, inputShape: [5], name: 'emb', embeddingsInitializer: initializer(31) }),
      tfl.layers.flatten({ name: 'flatten' }),
      tfl.layers.dense({ units: 3, name: 'lin', kernelInitializer: initializer(32), biasInitializer: initializer(33) }),
    ],
  });
}

export const embeddingInputs = (seed = 9): tf.Tensor => tf.randomUniform([4, 5], 0, 12, 'int32', seed);
