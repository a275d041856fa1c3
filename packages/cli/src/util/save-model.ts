import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { getModelInfo, InvalidConfigError, namedParameters } from '@peftjs/core';
import { saveSafetensors } from '@peftjs/hub';

export interface SaveTransformersModelOptions {
  /** config.json to write; default: the config the model was loaded or built with. */
  config?: Readonly<Record<string, unknown>>;
  /** How float tensors are stored. Default F32. */
  floatDtype?: 'F32' | 'F16' | 'BF16';
}

/** The model's parameters under transformers' state-dict names and torch layouts (the caller disposes them). */
export function transformersStateDict(model: LayersModel): Record<string, tf.Tensor> {
  const result: Record<string, tf.Tensor> = {};
  for (const [name, param] of namedParameters(model)) {
    result[name] = tf.tidy(() => param.toTorch(param.variable.read()));
  }
  return result;
}

/**
 * Writes a transformers model folder: `config.json` and `model.safetensors` with torch names and
 * layouts (each variable once, so a tied `lm_head` is not stored, as transformers does) and
 * `{"format": "pt"}` metadata — what `AutoModelFor…from_pretrained(dir)` loads. For a PEFT model,
 * save the result of `mergeAndUnload()`.
 */
export async function saveTransformersModel(model: LayersModel, dir: string, options: SaveTransformersModelOptions = {}): Promise<string[]> {
  const config = options.config ?? getModelInfo(model).config;
  if (!config) throw new InvalidConfigError('the model has no config.json attached; pass options.config', { field: 'config' });
  const tensors = transformersStateDict(model);
  try {
    await mkdir(dir, { recursive: true });
    await saveSafetensors(join(dir, 'model.safetensors'), tensors, { metadata: { format: 'pt' }, floatDtype: options.floatDtype ?? 'F32' });
    await writeFile(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
    return Object.keys(tensors);
  } finally {
    tf.dispose(Object.values(tensors));
  }
}
