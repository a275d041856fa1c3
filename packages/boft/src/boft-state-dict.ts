import * as tf from '@tensorflow/tfjs-core';
import { PEFT_KEY_PREFIX, type AdapterLayerEntry, type AdapterStateDictFormat } from '@peftjs/core';
import { BoftLayer } from './boft-layer';

const PERMUTATION_SUFFIX = '.boft_P';

function boftLayers(layers: readonly AdapterLayerEntry[], adapterName: string): Array<{ path: string; layer: BoftLayer }> {
  return layers.filter((entry): entry is { path: string; layer: BoftLayer } => entry.layer instanceof BoftLayer && entry.layer.hasAdapter(adapterName));
}

/**
 * BOFT's files as PEFT 0.11.1 writes them: core's per-layer keys (`boft_R`, `boft_s`, biases per
 * `bias`) plus each layer's permutation buffer `boft_P` `[N, F, F]`. On load `boft_P` is ignored
 * (PEFT rebuilds it) and the butterfly factor is taken from `boft_R`'s shape: PEFT 0.11.1 without
 * CUDA silently uses 1 whatever the config says.
 */
export const boftStateDictFormat: AdapterStateDictFormat = {
  shapes(layers, adapterName, defaults) {
    const shapes = defaults.shapes();
    for (const { path, layer } of boftLayers(layers, adapterName)) {
      shapes[`${PEFT_KEY_PREFIX}${path}${PERMUTATION_SUFFIX}`] = [layer.butterflyFactor(adapterName), layer.features, layer.features];
    }
    return shapes;
  },
  save(layers, adapterName, defaults) {
    const tensors = defaults.save();
    for (const { path, layer } of boftLayers(layers, adapterName)) tensors[`${PEFT_KEY_PREFIX}${path}${PERMUTATION_SUFFIX}`] = layer.permutationMatrices(adapterName);
    return tensors;
  },
  load(layers, adapterName, tensors, defaults) {
    const weights: Record<string, tf.Tensor> = {};
    for (const [key, value] of Object.entries(tensors)) if (!key.endsWith(PERMUTATION_SUFFIX)) weights[key] = value;
    const resizes: Array<{ commit(): void; undo(): void }> = [];
    try {
      for (const { path, layer } of boftLayers(layers, adapterName)) {
        const saved = weights[`${PEFT_KEY_PREFIX}${path}.boft_R`];
        const expected = layer.adapterParameters(adapterName).get(`boft_R.${adapterName}`)!.torchShape;
        // Only the factor may differ; any other mismatch is left to the shape check.
        if (saved && saved.rank === 4 && saved.shape.slice(1).every((size, index) => size === expected[index + 1]) && saved.shape[0] !== expected[0]) {
          resizes.push(layer.resizeButterfly(adapterName, saved.shape[0]!));
        }
      }
      const write = defaults.prepareLoad(weights);
      for (const resize of resizes) resize.commit();
      write();
    } catch (error) {
      for (const resize of resizes.reverse()) resize.undo();
      throw error;
    }
  },
};
