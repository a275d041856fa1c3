import type { PeftModel } from '@peftjs/core';
import { dispose, type Tensor } from '@tensorflow/tfjs-core';
import { loadSafetensors } from '../safetensors/load-safetensors';
import { adapterWeightsPath, readAdapterConfigFile } from './read-adapter-config';
import { resolveAdapterFolder, type AdapterLocationOptions } from './resolve-adapter-folder';

export interface LoadAdapterOptions extends AdapterLocationOptions {
  /** Load for training (`inference_mode: false`). Default false: the adapter is frozen, as in PEFT. */
  isTrainable?: boolean;
}

/** What an adapter folder holds, read and checked before any model is touched. */
export interface AdapterFiles {
  readonly folder: string;
  /** The raw `adapter_config.json`, with `inference_mode` set from `isTrainable`. */
  readonly config: Record<string, unknown>;
  /** The caller disposes these. */
  readonly tensors: Record<string, Tensor>;
}

/** Resolves the folder (local or Hub) and reads the config and the weights. */
export async function readAdapterFiles(dirOrRepoId: string, options: LoadAdapterOptions = {}): Promise<AdapterFiles> {
  const folder = await resolveAdapterFolder(dirOrRepoId, options);
  const config = { ...(await readAdapterConfigFile(folder)), inference_mode: !(options.isTrainable ?? false) };
  const tensors = await loadSafetensors(await adapterWeightsPath(folder));
  return { folder, config, tensors };
}

/**
 * Adds a saved adapter to a `PeftModel` under `adapterName` (PEFT's `load_adapter`), from a local
 * folder or a Hub repo; like PEFT, it does not activate it (call `setAdapter`). The files are read
 * and checked first; then the adapter is added and its tensors loaded — missing tensors and shape
 * mismatches throw (naming the tensor and both shapes), unexpected tensors warn. If anything
 * fails, the adapter is removed again: the model is left as it was.
 */
export async function loadAdapter(peftModel: PeftModel, dirOrRepoId: string, adapterName: string, options: LoadAdapterOptions = {}): Promise<void> {
  const { config, tensors } = await readAdapterFiles(dirOrRepoId, options);
  let added = false;
  try {
    peftModel.addAdapter(adapterName, config);
    added = true;
    peftModel.loadStateDict(tensors, adapterName);
  } catch (error) {
    if (added) {
      peftModel.deleteAdapter(adapterName);
    }
    throw error;
  } finally {
    dispose(Object.values(tensors));
  }
}
