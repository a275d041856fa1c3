import { NoSuchAdapterError, serializePeftConfig, toPythonJson, type PeftModel } from '@peftjs/core';
import { dispose } from '@tensorflow/tfjs-core';
import { InvalidHubArgumentError } from '../errors/invalid-hub-argument-error';
import { saveSafetensors } from '../safetensors/save-safetensors';
import { writeFileAtomicContent } from '../util/atomic-write';
import { ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME, DEFAULT_ADAPTER_FOLDER_NAME } from './adapter-files';
import { writeModelCard } from './model-card';

export interface SavePretrainedOptions {
  /** Adapters to save. Default: all of them. */
  selectedAdapters?: readonly string[];
  /** The dtype weights are written as: F32 (default, as PEFT), F16 or BF16. */
  floatDtype?: 'F32' | 'F16' | 'BF16';
  /** Create or update `README.md` in `dir` (PEFT's model card). Default true. */
  modelCard?: boolean;
}

export interface SavedAdapter {
  readonly adapterName: string;
  /** `dir` for the adapter named "default", `dir/<name>` for the others (as PEFT). */
  readonly folder: string;
  readonly files: readonly string[];
}

/**
 * Saves adapters in Python PEFT's format (`save_pretrained`): for each adapter, in `dir` (the
 * one named "default") or `dir/<name>/`, `adapter_model.safetensors` (PEFT key names, torch
 * layouts, `__metadata__ {"format":"pt"}`) and `adapter_config.json` (every key, sorted, indent 2,
 * `inference_mode: true`); then `README.md` in `dir`. Every file is written atomically. Names and
 * selections are checked before anything is written.
 */
export async function savePretrained(peftModel: PeftModel, dir: string, options: SavePretrainedOptions = {}): Promise<SavedAdapter[]> {
  const { join } = await import('node:path');
  const names = options.selectedAdapters === undefined ? peftModel.adapterNames : [...new Set(options.selectedAdapters)];
  for (const name of names) {
    if (!(name in peftModel.peftConfig)) {
      throw new NoSuchAdapterError({ adapterName: name, available: peftModel.adapterNames });
    }
    if (!/^[^/\\:\0]+$/.test(name) || name === '.' || name === '..') {
      throw new InvalidHubArgumentError({
        argument: 'adapterName',
        message: `adapter name ${JSON.stringify(name)} cannot be used as a folder name (no "/", "\\" or ":")`,
      });
    }
  }
  const saved: SavedAdapter[] = [];
  for (const name of names) {
    const folder = name === DEFAULT_ADAPTER_FOLDER_NAME ? dir : join(dir, name);
    const tensors = peftModel.getStateDict(name);
    try {
      await saveSafetensors(join(folder, ADAPTER_WEIGHTS_NAME), tensors, { metadata: { format: 'pt' }, floatDtype: options.floatDtype });
    } finally {
      dispose(Object.values(tensors));
    }
    const config = { ...serializePeftConfig(peftModel.peftConfig[name]), inference_mode: true };
    await writeFileAtomicContent(join(folder, ADAPTER_CONFIG_NAME), toPythonJson(config));
    saved.push({ adapterName: name, folder, files: [ADAPTER_WEIGHTS_NAME, ADAPTER_CONFIG_NAME] });
  }
  if (options.modelCard !== false) {
    const first = names.length > 0 ? peftModel.peftConfig[names[0]] : undefined;
    await writeModelCard(dir, { baseModel: first?.baseModelNameOrPath });
  }
  return saved;
}
