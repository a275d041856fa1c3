import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { PeftModel } from '@peftjs/core';
import { fromPretrained, loadAdapter } from '@peftjs/hub';
import { loadPretrained, resolveModelFolder, type ModelTask } from '@peftjs/models';
import { loadTokenizerIfAny, type TextTokenizer } from './tokenizer';
import type { StorageFlags } from './storage-options';
import { UsageError } from './usage-error';

export interface LoadedBase {
  model: LayersModel;
  /** The local folder (a Hub repo is downloaded into the cache first). */
  folder: string;
  config: Record<string, unknown>;
  task: ModelTask;
  tokenizer: TextTokenizer | undefined;
}

const TASK_OF_PEFT_TASK: Record<string, ModelTask> = {
  CAUSAL_LM: 'causal-lm',
  SEQ_2_SEQ_LM: 'seq2seq-lm',
  SEQ_CLS: 'sequence-classification',
  TOKEN_CLS: 'token-classification',
  FEATURE_EXTRACTION: 'base',
};

/** The transformers class a config.json names (`architectures[0]`) as a task. */
export function taskOf(config: Record<string, unknown>, peftTaskType?: unknown): ModelTask {
  if (typeof peftTaskType === 'string' && TASK_OF_PEFT_TASK[peftTaskType]) return TASK_OF_PEFT_TASK[peftTaskType]!;
  const architecture = Array.isArray(config.architectures) ? String(config.architectures[0] ?? '') : '';
  if (/ForSequenceClassification$/.test(architecture)) return 'sequence-classification';
  if (/ForTokenClassification$/.test(architecture)) return 'token-classification';
  if (/ForConditionalGeneration$/.test(architecture)) return 'seq2seq-lm';
  if (/(ForCausalLM|LMHeadModel)$/.test(architecture) || architecture === '') return 'causal-lm';
  if (/Model$/.test(architecture)) return 'base';
  return 'causal-lm';
}

export async function readJsonFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`${path} does not exist`);
    throw error;
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}

export interface LoadBaseOptions {
  revision?: string;
  task?: ModelTask;
  /** The adapter's task_type, when one is given (picks the head when config.json names none). */
  peftTaskType?: unknown;
  /** --dtype / --quantization: frozen weights in a store outside the wasm heap. */
  storage?: StorageFlags;
}

/** Loads a transformers model folder or Hub repo with the class its config names, and its tokenizer if it has one. */
export async function loadBase(dirOrRepoId: string, options: LoadBaseOptions = {}): Promise<LoadedBase> {
  const folder = await resolveModelFolder(dirOrRepoId, { revision: options.revision });
  const config = await readJsonFile(join(folder, 'config.json'));
  const task = options.task ?? taskOf(config, options.peftTaskType);
  const model = await loadPretrained(folder, task, { revision: options.revision, ...options.storage });
  const tokenizer = await loadTokenizerIfAny(folder);
  return { model, folder, config, task, tokenizer };
}

/** `name=path` or `path`; the first adapter without a name is `default`, later ones are named after their folder. */
export function parseAdapterArguments(values: readonly string[]): Array<{ name: string; location: string }> {
  const used = new Set<string>();
  return values.map((value, index) => {
    const match = /^([A-Za-z0-9_-]+)=(.+)$/.exec(value);
    let name = match ? match[1]! : index === 0 ? 'default' : basename(value.replace(/[\\/]+$/, '')).replace(/[^A-Za-z0-9_-]/g, '_');
    if (used.has(name)) name = `${name}_${index}`;
    used.add(name);
    return { name, location: match ? match[2]! : value };
  });
}

/** Loads one or more adapters onto a base model; all of them are active. */
export async function loadAdapters(base: LayersModel, adapters: readonly string[], options: { revision?: string } = {}): Promise<PeftModel | undefined> {
  if (adapters.length === 0) return undefined;
  const parsed = parseAdapterArguments(adapters);
  const [first, ...rest] = parsed;
  const peftModel = await fromPretrained(base, first!.location, { adapterName: first!.name, revision: options.revision });
  for (const adapter of rest) await loadAdapter(peftModel, adapter.location, adapter.name, { revision: options.revision });
  if (rest.length > 0) peftModel.setAdapter(parsed.map((adapter) => adapter.name));
  return peftModel;
}

/** Parses `--input-ids '[[1,2,3]]'`-style JSON into integer rows. */
export function parseIdRows(text: string, flag: string, options: { allowRagged?: boolean } = {}): number[][] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`${flag} must be JSON like [[1,2,3]], got ${JSON.stringify(text)}`);
  }
  if (Array.isArray(value) && value.every((item) => typeof item === 'number')) value = [value];
  if (!Array.isArray(value) || value.length === 0 || !value.every((row) => Array.isArray(row) && row.length > 0 && row.every((id) => Number.isInteger(id)))) {
    throw new UsageError(`${flag} must be a non-empty array of non-empty integer arrays, like [[1,2,3]]`);
  }
  const rows = value as number[][];
  if (!options.allowRagged && rows.some((row) => row.length !== rows[0]!.length)) throw new UsageError(`${flag}: every row must have the same length`);
  return rows;
}

/** Model inputs by name, in the order the model takes them. */
export function modelInputs(model: LayersModel, values: { inputIds: tf.Tensor; attentionMask?: tf.Tensor; tokenTypeIds?: tf.Tensor; decoderInputIds?: tf.Tensor }): tf.Tensor[] {
  return model.inputNames.map((name) => {
    if (name.startsWith('decoder_input_ids')) {
      if (!values.decoderInputIds) throw new UsageError("the model is an encoder-decoder: give the decoder's input with --decoder-input-ids '[[0, …]]'");
      return values.decoderInputIds;
    }
    if (name.startsWith('input_ids')) return values.inputIds;
    if (name.startsWith('attention_mask')) return values.attentionMask ?? tf.cast(tf.onesLike(values.inputIds), 'float32');
    if (name.startsWith('token_type_ids')) return values.tokenTypeIds ?? tf.zerosLike(values.inputIds);
    if (name.startsWith('position_ids')) {
      const [batch, seq] = values.inputIds.shape as [number, number];
      return tf.tile(tf.expandDims(tf.range(0, seq, 1, 'int32'), 0), [batch, 1]);
    }
    throw new UsageError(`the model takes an input named "${name}" that the CLI cannot fill`);
  });
}
