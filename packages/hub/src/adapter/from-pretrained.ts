import { PeftModel } from '@peftjs/core';
import { dispose, type Tensor } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { DEFAULT_ADAPTER_FOLDER_NAME } from './adapter-files';
import { readAdapterFiles, type LoadAdapterOptions } from './load-adapter';

export interface FromPretrainedOptions extends LoadAdapterOptions {
  /** The name the adapter gets in the model. Default "default". */
  adapterName?: string;
  /** The base model's type (`gpt2`, `llama`, …), when it is not registered with the model. */
  modelType?: string;
  /** Make a mixed model (PEFT's PeftMixedModel.from_pretrained): adapters of other types can be loaded beside this one. */
  mixed?: boolean;
}

/**
 * Wraps a base model with a saved adapter (PEFT's `PeftModel.from_pretrained`), from a local
 * folder or a Hub repo id. The adapter is active; it is frozen unless `isTrainable`. The files
 * are read and checked before the model is touched; if the tensors do not fit the model, the
 * adapter is unloaded and the base model's trainability restored before the error is thrown.
 */
export async function fromPretrained(baseModel: LayersModel, dirOrRepoId: string, options: FromPretrainedOptions = {}): Promise<PeftModel> {
  const { config, tensors } = await readAdapterFiles(dirOrRepoId, options);
  return fromAdapterTensors(baseModel, config, tensors, options);
}

/**
 * Wraps a base model with an adapter already read (its raw config and its tensors, which this
 * disposes); on failure, unloads it and restores the base model's trainability before throwing.
 */
export function fromAdapterTensors(
  baseModel: LayersModel,
  config: Record<string, unknown>,
  tensors: Record<string, Tensor>,
  options: { adapterName?: string; modelType?: string; mixed?: boolean } = {},
): PeftModel {
  const adapterName = options.adapterName ?? DEFAULT_ADAPTER_FOLDER_NAME;
  const trainable = baseModel.weights.map((weight) => weight.trainable);
  try {
    const peftModel = new PeftModel(baseModel, config, { adapterName, modelType: options.modelType, mixed: options.mixed });
    try {
      peftModel.loadStateDict(tensors, adapterName);
    } catch (error) {
      peftModel.unload();
      throw error;
    }
    return peftModel;
  } catch (error) {
    baseModel.weights.forEach((weight, index) => {
      weight.trainable = trainable[index];
    });
    throw error;
  } finally {
    dispose(Object.values(tensors));
  }
}
