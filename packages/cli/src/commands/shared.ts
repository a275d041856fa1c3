import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { PeftModel } from '@peftjs/core';
import { loadAdapters, loadBase, parseIdRows, type LoadedBase } from '../util/load-model';
import { readJsonFile } from '../util/load-model';
import { resolveAdapterFolder } from '@peftjs/hub';
import { resolveBaseModel } from '@peftjs/models';
import { join } from 'node:path';
import { UsageError } from '../util/usage-error';
import type { StorageFlags } from '../util/storage-options';

export interface LoadedModel {
  base: LoadedBase;
  peftModel: PeftModel | undefined;
  /** The model to run: the adapted one when adapters were given. */
  model: LayersModel;
}

/** How --base reads in help: optional where the first adapter can name the base. */
export const BASE_FROM_ADAPTER = "the first adapter's base_model_name_or_path";

/**
 * Loads --base and every --adapter (all active). Without --base, the base is the one the first
 * adapter's `base_model_name_or_path` names (as PEFT's AutoPeftModel): a folder relative to the
 * working directory, else to the adapter folder, else a Hub repo id.
 */
export async function loadModelWithAdapters(options: { base?: string; adapter?: string[]; revision?: string; storage?: StorageFlags }): Promise<LoadedModel> {
  let peftTaskType: unknown;
  let baseLocation = options.base;
  let revision = options.revision;
  const adapters = options.adapter ?? [];
  if (adapters.length > 0) {
    const first = adapters[0]!.replace(/^[A-Za-z0-9_-]+=/, '');
    const folder = await resolveAdapterFolder(first);
    const adapterConfig = await readJsonFile(join(folder, 'adapter_config.json'));
    peftTaskType = adapterConfig.task_type;
    if (baseLocation === undefined) {
      const written = typeof adapterConfig.base_model_name_or_path === 'string' ? adapterConfig.base_model_name_or_path : '';
      if (written === '') throw new UsageError(`give --base: ${join(folder, 'adapter_config.json')} names no base model (base_model_name_or_path is empty)`);
      try {
        baseLocation = (await resolveBaseModel(written, folder)).location;
      } catch (error) {
        throw new UsageError(`give --base: ${(error as Error).message}`, { cause: error });
      }
      if (revision === undefined && typeof adapterConfig.revision === 'string' && adapterConfig.revision !== '') revision = adapterConfig.revision;
    }
  }
  if (baseLocation === undefined) throw new UsageError('give --base, or an --adapter whose adapter_config.json names its base model');
  const base = await loadBase(baseLocation, { revision, peftTaskType, storage: options.storage });
  const peftModel = await loadAdapters(base.model, adapters);
  return { base, peftModel, model: peftModel?.model ?? base.model };
}

/** Token rows from --prompt (left-padded to one length) or --input-ids; with the attention mask. */
export function promptRows(
  loaded: LoadedModel,
  options: { prompt?: string[]; inputIds?: string; attentionMask?: string },
): { rows: number[][]; mask: number[][]; promptLengths: number[] } {
  if (options.prompt && options.inputIds) throw new UsageError('give --prompt or --input-ids, not both');
  let rows: number[][];
  let mask: number[][] | undefined;
  if (options.prompt) {
    const tokenizer = loaded.base.tokenizer;
    if (!tokenizer) throw new UsageError(`${loaded.base.folder} has no tokenizer.json; use --input-ids`);
    const encoded = options.prompt.map((text) => tokenizer.encode(text));
    if (encoded.some((ids) => ids.length === 0)) throw new UsageError('--prompt is empty after tokenization');
    const length = Math.max(...encoded.map((ids) => ids.length));
    const pad = tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0;
    rows = encoded.map((ids) => [...new Array<number>(length - ids.length).fill(pad), ...ids]);
    mask = encoded.map((ids) => [...new Array<number>(length - ids.length).fill(0), ...ids.map(() => 1)]);
  } else if (options.inputIds) {
    rows = parseIdRows(options.inputIds, '--input-ids');
  } else throw new UsageError("give --prompt TEXT or --input-ids '[[1,2,3]]'");
  if (options.attentionMask) {
    mask = parseIdRows(options.attentionMask, '--attention-mask');
    if (mask.length !== rows.length || mask.some((row, index) => row.length !== rows[index]!.length)) throw new UsageError('--attention-mask must have the shape of the input ids');
  }
  const vocabSize = loaded.base.config.vocab_size;
  if (typeof vocabSize === 'number') {
    const bad = rows.flat().find((id) => id < 0 || id >= vocabSize);
    if (bad !== undefined) throw new UsageError(`token id ${bad} is outside the model's vocabulary (vocab_size ${vocabSize})`);
  }
  mask ??= rows.map((row) => row.map(() => 1));
  return { rows, mask, promptLengths: rows.map((row) => row.length) };
}

export function disposeLoaded(loaded: LoadedModel): void {
  tf.dispose(loaded.base.model.weights.map((weight) => weight.read()));
}
