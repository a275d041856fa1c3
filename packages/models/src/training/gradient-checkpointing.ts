import type { layers, LayersModel } from '@tensorflow/tfjs-layers';

// Keyed by the model's first input layer: adapter injection rebuilds the LayersModel around the
// same input layers, so the setting follows the model into its PEFT wrapper.
const enabled = new WeakMap<layers.Layer, boolean>();

function key(model: LayersModel): layers.Layer | undefined {
  return model.inputs[0]?.sourceLayer;
}

/**
 * transformers' `model.gradient_checkpointing_enable()`: training losses computed with
 * `causalLmTrainingLoss` recompute each decoder layer in the backward pass instead of keeping its
 * activations (about one extra forward pass of compute for activation memory of one layer).
 */
export function setGradientCheckpointing(model: LayersModel, value = true): void {
  const layer = key(model);
  if (layer) enabled.set(layer, value);
}

export function isGradientCheckpointingEnabled(model: LayersModel): boolean {
  const layer = key(model);
  return layer ? enabled.get(layer) === true : false;
}
