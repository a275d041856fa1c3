import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { getModelInfo, InvalidConfigError, namedParameters } from '@peftjs/core';
import { saveSafetensors } from '@peftjs/hub';
import { CONFIG_NAME } from '../config/load-config';
import { WEIGHTS_NAME } from './weight-source';

export interface SaveModelOptions {
  /** config.json to write; default: the config the model was loaded or built with. */
  config?: Readonly<Record<string, unknown>>;
  /** How float tensors are stored. Default F32. */
  floatDtype?: 'F32' | 'F16' | 'BF16';
}

/** The model's parameters under transformers' state-dict names and torch layouts (the caller disposes them). */
export function modelStateDict(model: LayersModel): Record<string, tf.Tensor> {
  const result: Record<string, tf.Tensor> = {};
  for (const [name, param] of namedParameters(model)) {
    result[name] = tf.tidy(() => param.toTorch(param.variable.read()));
  }
  return result;
}

/**
 * Writes a transformers model folder: config.json and model.safetensors with the torch names and
 * layouts (a tied `lm_head` is not stored, as transformers does), `{"format": "pt"}` metadata.
 * Python loads it with `AutoModel…from_pretrained(dir)`. For a PEFT model, save the result of
 * `mergeAndUnload()` (or the base model) — adapter layers have their own format.
 */
export async function saveModel(model: LayersModel, dir: string, options: SaveModelOptions = {}): Promise<void> {
  const config = options.config ?? getModelInfo(model).config;
  if (!config) throw new InvalidConfigError('the model has no config.json attached; pass options.config', { field: 'config' });
  const { mkdir, writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const tensors = modelStateDict(model);
  try {
    await mkdir(dir, { recursive: true });
    await saveSafetensors(join(dir, WEIGHTS_NAME), tensors, { metadata: { format: 'pt' }, floatDtype: options.floatDtype ?? 'F32' });
    await writeFile(join(dir, CONFIG_NAME), `${JSON.stringify(config, null, 2)}\n`);
  } finally {
    tf.dispose(Object.values(tensors));
  }
}
