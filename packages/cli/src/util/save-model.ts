import type * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { modelStateDict, saveModel } from '@peftjs/models';

export interface SaveTransformersModelOptions {
  /** config.json to write; default: the config the model was loaded or built with. */
  config?: Readonly<Record<string, unknown>>;
  /** How float tensors are stored. Default F32. */
  floatDtype?: 'F32' | 'F16' | 'BF16';
}

/** The model's parameters under transformers' state-dict names and torch layouts (the caller disposes them). */
export function transformersStateDict(model: LayersModel): Record<string, tf.Tensor> {
  return modelStateDict(model);
}

/**
 * Writes a transformers model folder through @peftjs/models' saveModel: `config.json` and
 * `model.safetensors` with torch names and layouts (a tied `lm_head` is not stored, as transformers
 * does), `{"format": "pt"}` metadata. Returns the tensor names written. For a PEFT model, save the
 * result of `mergeAndUnload()`.
 */
export async function saveTransformersModel(model: LayersModel, dir: string, options: SaveTransformersModelOptions = {}): Promise<string[]> {
  const tensors = modelStateDict(model);
  const names = Object.keys(tensors);
  for (const tensor of Object.values(tensors)) tensor.dispose();
  await saveModel(model, dir, options);
  return names;
}
