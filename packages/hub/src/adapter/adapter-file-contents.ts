import { NoSuchAdapterError, serializePeftConfig, toPythonJson, type PeftModel } from '@peftjs/core';
import { dispose } from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { AdapterFolderError } from '../errors/adapter-folder-error';
import { loadSafetensors } from '../safetensors/load-safetensors';
import { serializeSafetensors } from '../safetensors/save-safetensors';
import { ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME, DEFAULT_ADAPTER_FOLDER_NAME } from './adapter-files';
import { fromAdapterTensors } from './from-pretrained';

/** An adapter folder's two files, in memory: what `savePretrained` writes for one adapter. */
export interface AdapterFileContents {
  /** Every key of the method's config, sorted, indent 2, non-ASCII escaped, `inference_mode: true`. */
  [ADAPTER_CONFIG_NAME]: string;
  /** PEFT key names, torch layouts, `__metadata__ {"format":"pt"}`. */
  [ADAPTER_WEIGHTS_NAME]: Uint8Array;
}

/** The same two files as bytes, text or `Blob`s / `File`s (what a browser's file picker gives). */
export interface AdapterFileSources {
  [ADAPTER_CONFIG_NAME]: string | Uint8Array | ArrayBuffer | Blob;
  [ADAPTER_WEIGHTS_NAME]: Uint8Array | ArrayBuffer | Blob;
}

export interface AdapterFilesFromPeftModelOptions {
  /** The adapter to write. Default "default". */
  adapterName?: string;
  /** The dtype weights are written as: F32 (default, as PEFT), F16 or BF16. */
  floatDtype?: 'F32' | 'F16' | 'BF16';
}

/**
 * One adapter's `adapter_config.json` and `adapter_model.safetensors`, in memory, byte for byte
 * what `savePretrained` writes to disk. Needs no file system: for browsers (offer them as
 * downloads) and for uploads.
 */
export async function adapterFilesFromPeftModel(peftModel: PeftModel, options: AdapterFilesFromPeftModelOptions = {}): Promise<AdapterFileContents> {
  const name = options.adapterName ?? DEFAULT_ADAPTER_FOLDER_NAME;
  if (!(name in peftModel.peftConfig)) {
    throw new NoSuchAdapterError({ adapterName: name, available: peftModel.adapterNames });
  }
  const tensors = peftModel.getStateDict(name);
  let weights: Uint8Array;
  try {
    weights = await serializeSafetensors(tensors, { metadata: { format: 'pt' }, floatDtype: options.floatDtype });
  } finally {
    dispose(Object.values(tensors));
  }
  const config = { ...serializePeftConfig(peftModel.peftConfig[name]), inference_mode: true };
  return { [ADAPTER_CONFIG_NAME]: toPythonJson(config), [ADAPTER_WEIGHTS_NAME]: weights };
}

export interface PeftModelFromAdapterFilesOptions {
  /** The name the adapter gets in the model. Default "default". */
  adapterName?: string;
  /** Load for training (`inference_mode: false`). Default false: the adapter is frozen, as in PEFT. */
  isTrainable?: boolean;
  /** The base model's type (`gpt2`, `llama`, …), when it is not registered with the model. */
  modelType?: string;
  /** Where the files came from, for error messages (a folder or file names). Default "adapter files". */
  label?: string;
}

async function configText(source: AdapterFileSources[typeof ADAPTER_CONFIG_NAME]): Promise<string> {
  if (typeof source === 'string') return source;
  if (typeof Blob !== 'undefined' && source instanceof Blob) return source.text();
  return new TextDecoder('utf-8').decode(source as Uint8Array | ArrayBuffer);
}

/** Parses an in-memory `adapter_config.json`, or throws `AdapterFolderError` saying what is wrong. */
export async function parseAdapterConfigFile(source: AdapterFileSources[typeof ADAPTER_CONFIG_NAME], label = 'adapter files'): Promise<Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await configText(source));
  } catch (error) {
    throw new AdapterFolderError({ folder: label, file: ADAPTER_CONFIG_NAME, message: `${ADAPTER_CONFIG_NAME} is not valid JSON: ${(error as Error).message}`, cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new AdapterFolderError({ folder: label, file: ADAPTER_CONFIG_NAME, message: `${ADAPTER_CONFIG_NAME} is not a JSON object` });
  }
  return parsed as Record<string, unknown>;
}

/**
 * `fromPretrained` from the two files in memory (bytes, text, `Blob`s or `File`s): wraps a base
 * model with the adapter they hold, active, frozen unless `isTrainable`. The files are parsed and
 * checked before the model is touched (malformed JSON or safetensors throw `AdapterFolderError` /
 * `SafetensorsFormatError`); tensors that do not fit the model throw core's `AdapterFormatError`
 * naming the tensor, after the adapter is unloaded and the base model's trainability restored.
 */
export async function peftModelFromAdapterFiles(baseModel: LayersModel, files: AdapterFileSources, options: PeftModelFromAdapterFilesOptions = {}): Promise<PeftModel> {
  const label = options.label ?? 'adapter files';
  for (const file of [ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME] as const) {
    if (files[file] === undefined || files[file] === null) {
      throw new AdapterFolderError({ folder: label, file, message: `no ${file} among ${label}` });
    }
  }
  const config = { ...(await parseAdapterConfigFile(files[ADAPTER_CONFIG_NAME], label)), inference_mode: !(options.isTrainable ?? false) };
  const tensors = await loadSafetensors(files[ADAPTER_WEIGHTS_NAME]);
  return fromAdapterTensors(baseModel, config, tensors, options);
}
