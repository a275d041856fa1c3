import type * as tf from '@tensorflow/tfjs-core';
import { layers as tflLayers } from '@tensorflow/tfjs-layers';
import type { layers, LayerVariable } from '@tensorflow/tfjs-layers';
import type { LayerNormalizationLayerArgs } from '@tensorflow/tfjs-layers/dist/layers/normalization';
import { layerNormOp } from './fused/layer-norm-op';
import { single, type Kwargs } from './layer-utils';

/** tfjs-layers does not export its LayerNormalization class; take it from an instance. */
const LayerNormalizationClass = tflLayers.layerNormalization({}).constructor as new (args: LayerNormalizationLayerArgs) => layers.Layer;

/**
 * A tfjs `LayerNormalization` (same class name, weights `gamma` / `beta`, config) whose call over
 * the last axis is one fused op with its own gradient (`layerNormOp`): the stock call tiles mean,
 * variance, gamma and beta to the input's shape, and the Tile gradient loops over the copies.
 */
export class LayerNorm extends LayerNormalizationClass {
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const input = single(inputs);
    const self = this as unknown as { axis: number[]; epsilon: number; gamma?: LayerVariable; beta?: LayerVariable; scale: boolean; center: boolean };
    if (self.axis.length !== 1 || self.axis[0] !== input.rank - 1) return super.call(inputs, kwargs) as tf.Tensor;
    return layerNormOp(input, self.scale && self.gamma ? self.gamma.read() : null, self.center && self.beta ? self.beta.read() : null, self.epsilon);
  }
}

export function layerNorm(args: LayerNormalizationLayerArgs): layers.Layer {
  return new LayerNorm(args);
}
