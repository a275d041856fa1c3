import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { getPeftModel, PeftError, warn, type PeftModel } from '@peftjs/core';
import { loadSafetensors, resolveAdapterFolder, savePretrained } from '@peftjs/hub';
import { loadMultitaskPromptTuningSource } from '@peftjs/prompt-tuning';
import {
  loadTrainableState,
  resolveTrainingArguments,
  Trainer,
  trainableParameters,
  trainingArgumentsToJson,
  TrainableStateError,
  type EvaluationLogEntry,
  type StepLogEntry,
  type TrainingArguments,
  type TrainingExample,
} from '@peftjs/trainer';
import { nodeStorage } from '@peftjs/trainer/node';
import type { DataRow } from '../data/read-rows';
import { boundedMemoryLoss } from './bounded-memory-loss';
import { tokenizeRows } from '../data/tokenize-rows';
import { loadBase, readJsonFile, type LoadedBase } from '../util/load-model';
import { assertTrainingFits, type StorageFlags } from '../util/storage-options';
import { findMethod, methodName } from '../util/methods';
import { createSeededRandom, shuffled, withSeededMathRandom } from '../util/seeded-random';
import { UsageError } from '../util/usage-error';
import { writeLossCurve } from './loss-curve';

/** The CLI's defaults where they differ from HF TrainingArguments' (an adapter takes a larger lr). */
export const TRAIN_DEFAULTS = {
  epochs: 3,
  batchSize: 8,
  lr: 1e-3,
  maxLength: 256,
  seed: 42,
  evalSplit: 0,
  maxGradNorm: 1.0,
} as const;

export interface StepProgress {
  step: number;
  totalSteps: number;
  /** Fractional epoch after the step. */
  epoch: number;
  loss: number;
  tokensPerSecond: number;
  etaSeconds: number;
}

export interface TrainAdapterOptions {
  /** A model folder or Hub repo id, or a base already loaded with `loadBase`. */
  base: string | LoadedBase;
  rows: readonly DataRow[];
  /** A registered method: lora, ia3, prompt-tuning, … (default: the init adapter's, else lora). */
  method?: string;
  /** Method config fields, snake_case (from --config and the method flags). */
  config?: Record<string, unknown>;
  /** Start from a saved adapter folder (its config and weights, trainable). */
  initAdapter?: string;
  /** A safetensors file of every trainable tensor (keys as in checkpoints' trainable_state.safetensors), loaded over the initial values. */
  initState?: string;
  /** The engine's TrainingArguments (HF names, camelCase); the shorthands below fill what this leaves out. */
  training?: Partial<TrainingArguments>;
  /** num_train_epochs. */
  epochs?: number;
  /** per_device_train_batch_size. */
  batchSize?: number;
  /** learning_rate. */
  lr?: number;
  maxGradNorm?: number;
  /** Recompute each decoder layer in the backward pass instead of keeping its activations. */
  gradientCheckpointing?: boolean;
  seed?: number;
  maxLength?: number;
  /** Fraction (0–1) or number (≥ 1) of rows held out for evaluation. Default 0. */
  evalSplit?: number;
  /** Evaluate every N optimizer steps (default: once per epoch, when rows are held out). */
  evalSteps?: number;
  /** The id of padding positions (default: the tokenizer's pad, else EOS, else config.pad_token_id, else 0). */
  padTokenId?: number;
  /** `checkpoint-<step>` folder or `latest` (the newest complete checkpoint under `out`). */
  resumeFromCheckpoint?: string;
  /** Write the adapter, checkpoints, training_log.json and loss_curve.png here. */
  out?: string;
  revision?: string;
  /** --dtype / --quantization for the base model's frozen weights. */
  storage?: StorageFlags;
  dataSource?: string;
  onStep?: (progress: StepProgress) => void;
  log?: (line: string) => void;
}

export interface TrainingLog {
  method: string;
  peft_type: string;
  base: string;
  data: string | null;
  backend: string;
  /** The training arguments, HF's snake_case names, plus the CLI's own. */
  args: Record<string, unknown>;
  adapter_config: Record<string, unknown>;
  trainable_parameters: string;
  train_rows: number;
  eval_rows: number;
  total_steps: number;
  /** One entry per optimizer step: step, loss, grad_norm, learning_rate, seconds (+ epoch, tokens). */
  steps: StepLogEntry[];
  evals: Array<{ epoch: number; step: number; loss: number; perplexity: number; rows: number }>;
  resumed_from: string | null;
  train_tokens: number;
  seconds: number;
  tokens_per_second: number;
}

export interface TrainAdapterResult {
  peftModel: PeftModel;
  base: LoadedBase;
  log: TrainingLog;
  /** Files written under `out`. */
  files: string[];
  finalEval: TrainingLog['evals'][number] | undefined;
}

function evalCount(rows: number, split: number): number {
  if (!(split >= 0)) throw new UsageError(`--eval-split must be ≥ 0, got ${split}`);
  const count = split >= 1 ? Math.floor(split) : Math.round(rows * split);
  if (count >= rows) throw new UsageError(`--eval-split ${split} leaves no rows to train on (${rows} rows)`);
  return split > 0 && rows >= 2 ? Math.max(count, 1) : 0;
}

/** The engine's arguments from the options: `training` first, the shorthands for what it leaves out. */
export function trainingArgumentsOf(options: TrainAdapterOptions): TrainingArguments {
  const training = options.training ?? {};
  try {
    return resolveTrainingArguments({
      learningRate: options.lr ?? TRAIN_DEFAULTS.lr,
      numTrainEpochs: options.epochs ?? TRAIN_DEFAULTS.epochs,
      perDeviceTrainBatchSize: options.batchSize ?? TRAIN_DEFAULTS.batchSize,
      perDeviceEvalBatchSize: options.batchSize ?? TRAIN_DEFAULTS.batchSize,
      maxGradNorm: options.maxGradNorm ?? TRAIN_DEFAULTS.maxGradNorm,
      seed: options.seed ?? TRAIN_DEFAULTS.seed,
      ...Object.fromEntries(Object.entries(training).filter(([, value]) => value !== undefined)),
    });
  } catch (error) {
    if (PeftError.isInstance(error)) throw new UsageError(error.message, { cause: error });
    throw error;
  }
}

function padTokenIdOf(base: LoadedBase, given: number | undefined): number {
  if (given !== undefined) return given;
  return base.tokenizer?.padTokenId ?? base.tokenizer?.eosTokenId ?? (typeof base.config.pad_token_id === 'number' ? base.config.pad_token_id : 0);
}

/**
 * The adapter to train: from `initAdapter` (its config, and its weights unless `initState` gives
 * every trainable tensor and the file holds derived tensors, like a P-tuning prompt saved without
 * its encoder), else a new one from the method config (seeded init). `initState` is loaded over.
 * Everything is checked before training starts: a bad file changes nothing on disk.
 */
async function buildAdapter(base: LoadedBase, options: TrainAdapterOptions, seed: number, log: (line: string) => void): Promise<{ peftModel: PeftModel; methodName: string }> {
  let rawConfig: Record<string, unknown>;
  let adapterFolder: string | undefined;
  if (options.initAdapter) {
    adapterFolder = await resolveAdapterFolder(options.initAdapter);
    const saved = await readJsonFile(join(adapterFolder, 'adapter_config.json'));
    if (typeof saved.peft_type !== 'string') throw new UsageError(`${join(adapterFolder, 'adapter_config.json')} has no peft_type`);
    if (options.method && findMethod(options.method).peftType !== saved.peft_type) {
      throw new UsageError(`--init-adapter ${options.initAdapter} is a ${saved.peft_type} adapter but --method is ${options.method}`);
    }
    rawConfig = { ...saved, ...(options.config ?? {}) };
  } else {
    const method = findMethod(options.method ?? 'lora');
    rawConfig = { ...(options.config ?? {}), peft_type: method.peftType };
    if (rawConfig.task_type === undefined) rawConfig.task_type = 'CAUSAL_LM';
    rawConfig.base_model_name_or_path = typeof options.base === 'string' ? options.base : base.folder;
  }
  const method = findMethod(methodName(String(rawConfig.peft_type)));
  // Multitask prompt tuning's source inits read prompt_tuning_init_state_dict_path first (a no-op for any other config).
  const config = await loadMultitaskPromptTuningSource(method.tuner.parseConfig({ ...rawConfig, inference_mode: false }), loadSafetensors);
  const peftModel = withSeededMathRandom(seed, async () => getPeftModel(base.model, config));
  const model = await peftModel;
  try {
    const parameters = trainableParameters(model);
    let initState: Record<string, tf.Tensor> | undefined;
    if (options.initState) {
      let bytes: Uint8Array;
      try {
        bytes = await readFile(options.initState);
      } catch {
        throw new UsageError(`--init-state ${options.initState} does not exist`);
      }
      initState = await loadSafetensors(bytes);
    }
    try {
      if (adapterFolder) {
        const tensors = await loadSafetensors(join(adapterFolder, 'adapter_model.safetensors'));
        try {
          const keys = new Set(parameters.map((entry) => entry.key));
          const derived = Object.keys(tensors).filter((key) => !keys.has(key));
          if (initState && derived.length > 0)
            log(`--init-state gives every trainable tensor; ${adapterFolder}'s ${derived.join(', ')} (derived, not trainable as saved) is not loaded`);
          else {
            if (derived.length > 0)
              warn(
                `${adapterFolder} holds ${derived.join(', ')}, the output of an encoder PEFT does not save: training continues from that output (give --init-state to start from the encoder itself)`,
              );
            model.loadStateDict(tensors);
          }
        } finally {
          tf.dispose(Object.values(tensors));
        }
      }
      if (initState) loadTrainableState(model, initState, { source: `--init-state ${options.initState}` });
    } finally {
      if (initState) tf.dispose(Object.values(initState));
    }
  } catch (error) {
    model.unload();
    for (const weight of base.model.weights) weight.trainable = false;
    if (TrainableStateError.isInstance(error)) throw new UsageError(error.message, { cause: error });
    throw error;
  }
  return { peftModel: model, methodName: method.name };
}

/**
 * Trains a PEFT adapter on a causal LM with the training engine (@peftjs/trainer: HF Trainer's
 * recipe): tokenizes the rows, holds out an eval split, trains with checkpoints under `out`,
 * evaluates before training and every eval-steps, and writes the adapter in PEFT's format,
 * training_log.json and loss_curve.png.
 */
export async function trainAdapter(options: TrainAdapterOptions): Promise<TrainAdapterResult> {
  const log = options.log ?? (() => {});
  const args = trainingArgumentsOf(options);
  const maxLength = options.maxLength ?? TRAIN_DEFAULTS.maxLength;
  if (!Number.isInteger(maxLength) || maxLength < 2) throw new UsageError(`--max-length must be an integer ≥ 2, got ${maxLength}`);
  const evalSplit = options.evalSplit ?? TRAIN_DEFAULTS.evalSplit;

  const base = typeof options.base === 'string' ? await loadBase(options.base, { revision: options.revision, task: 'causal-lm', storage: options.storage }) : options.base;
  if (base.task !== 'causal-lm') throw new UsageError(`train fine-tunes causal language models; ${base.folder} is a ${base.task} model`);
  const vocabSize = typeof base.config.vocab_size === 'number' ? base.config.vocab_size : undefined;
  const padTokenId = padTokenIdOf(base, options.padTokenId);
  const examples = tokenizeRows(options.rows, { tokenizer: base.tokenizer, maxLength, vocabSize, source: options.dataSource ?? 'data' });
  // A run that cannot fit stops here with one line, not as a wasm abort mid-step.
  assertTrainingFits(base.model, {
    batchSize: Math.min(args.perDeviceTrainBatchSize, examples.length),
    sequenceLength: examples.reduce((longest, example) => Math.max(longest, example.inputIds.length), 1),
    gradientCheckpointing: options.gradientCheckpointing === true,
  });
  // A row's "task_ids" (multitask prompt tuning, Poly) was read by tokenizeRows.
  const rows: TrainingExample[] = examples.map((example) => ({
    inputIds: example.inputIds,
    labels: example.labels,
    ...(example.taskId !== undefined ? { taskId: example.taskId } : {}),
  }));

  // Held-out rows are a seeded draw; the training rows keep their file order (the engine shuffles per epoch).
  const evalRows = evalCount(rows.length, evalSplit);
  const heldOut = new Set(
    shuffled(
      rows.map((_, index) => index),
      createSeededRandom(args.seed ^ 0x9e3779b9),
    ).slice(0, evalRows),
  );
  const evalSet = rows.filter((_, index) => heldOut.has(index));
  const trainSet = rows.filter((_, index) => !heldOut.has(index));

  const { peftModel, methodName: name } = await buildAdapter(base, options, args.seed, log);
  const trainable = peftModel.trainableParametersReport();

  const batchesPerEpoch = Math.ceil(trainSet.length / args.perDeviceTrainBatchSize);
  const stepsPerEpoch = Math.max(Math.floor(batchesPerEpoch / args.gradientAccumulationSteps), 1);
  const evalSteps = options.evalSteps ?? (evalSet.length > 0 ? stepsPerEpoch : 0);
  const evals: TrainingLog['evals'] = [];
  const record = (entry: EvaluationLogEntry) => evals.push({ epoch: entry.epoch, step: entry.step, loss: entry.eval_loss, perplexity: entry.perplexity, rows: entry.rows });
  let trainer: Trainer;
  let started = performance.now();
  let tokensSeen = 0;
  let stepsDone = 0;
  try {
    trainer = new Trainer({
      peftModel,
      args: { ...args, evalSteps },
      trainDataset: trainSet,
      evalDataset: evalSet,
      padTokenId,
      // The vocabulary scored in chunks (never the full logits), optionally checkpointed.
      computeLoss: boundedMemoryLoss({ gradientCheckpointing: options.gradientCheckpointing }),
      storage: options.out ? nodeStorage : undefined,
      outputDir: options.out,
      callbacks: {
        onStep: (entry) => {
          tokensSeen += entry.tokens;
          stepsDone++;
          const seconds = (performance.now() - started) / 1000;
          options.onStep?.({
            step: entry.step,
            totalSteps: trainer.totalSteps,
            epoch: entry.epoch,
            loss: entry.loss,
            tokensPerSecond: tokensSeen / Math.max(seconds, 1e-9),
            etaSeconds: (seconds / stepsDone) * (trainer.totalSteps - entry.step),
          });
        },
        onEvaluate: (entry) => {
          record(entry);
          log(`eval at step ${entry.step} (epoch ${entry.epoch.toFixed(2)}): loss ${entry.eval_loss.toFixed(4)}, perplexity ${entry.perplexity.toFixed(2)} (${entry.rows} rows)`);
        },
      },
    });
  } catch (error) {
    peftModel.unload();
    if (PeftError.isInstance(error)) throw new UsageError(error.message, { cause: error });
    throw error;
  }
  let result;
  try {
    // A checkpoint is checked and loaded before anything is printed or written.
    if (options.resumeFromCheckpoint !== undefined) {
      const folder = await trainer.resume(options.resumeFromCheckpoint);
      log(trainable);
      log(`resuming from ${folder} at step ${trainer.globalStep}`);
    } else {
      log(trainable);
      if (evalSet.length > 0) await trainer.evaluate();
    }
    started = performance.now();
    result = await trainer.train();
  } catch (error) {
    if (PeftError.isInstance(error)) throw new UsageError(error.message.split('\n')[0]!, { cause: error });
    throw error;
  }
  if (options.resumeFromCheckpoint !== undefined) {
    evals.splice(0, evals.length);
    for (const entry of result.evaluations) record(entry);
  }
  const seconds = result.log.at(-1)?.seconds ?? 0;
  const trainTokens = result.log.reduce((sum, entry) => sum + entry.tokens, 0);
  const trainingLog: TrainingLog = {
    method: name,
    peft_type: peftModel.peftType,
    base: typeof options.base === 'string' ? options.base : base.folder,
    data: options.dataSource ?? null,
    backend: tf.getBackend(),
    args: { ...trainingArgumentsToJson({ ...args, evalSteps }), max_length: maxLength, eval_split: evalSplit, pad_token_id: padTokenId },
    adapter_config: peftModel.tuner.serializeConfig(peftModel.peftConfig.default ?? Object.values(peftModel.peftConfig)[0]!),
    trainable_parameters: trainable,
    train_rows: trainSet.length,
    eval_rows: evalSet.length,
    total_steps: result.totalSteps,
    steps: result.log,
    evals,
    resumed_from: options.resumeFromCheckpoint ?? null,
    train_tokens: trainTokens,
    seconds,
    tokens_per_second: trainTokens / Math.max(seconds, 1e-9),
  };
  const files: string[] = [];
  if (options.out) {
    await mkdir(options.out, { recursive: true });
    const saved = await savePretrained(peftModel, options.out);
    files.push(...saved.flatMap((adapter) => adapter.files.map((file) => (file.startsWith(adapter.folder) ? file : join(adapter.folder, file)))));
    await writeFile(join(options.out, 'training_log.json'), `${JSON.stringify(trainingLog, null, 2)}\n`);
    await writeLossCurve(join(options.out, 'loss_curve.png'), [
      { label: 'train', points: result.log.map((entry) => [entry.step, entry.loss] as const), color: [31, 119, 180] },
      ...(evals.length > 0 ? [{ label: 'eval', points: evals.map((entry) => [entry.step, entry.loss] as const), color: [214, 39, 40] as const }] : []),
    ]);
    files.push(join(options.out, 'training_log.json'), join(options.out, 'loss_curve.png'));
  }
  return { peftModel, base, log: trainingLog, files, finalEval: evals.length > 1 ? evals.at(-1) : undefined };
}
