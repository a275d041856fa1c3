import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { getPeftModel, type PeftModel } from '@peftjs/core';
import { savePretrained } from '@peftjs/hub';
import type { DataRow } from '../data/read-rows';
import { padBatch, tokenizeRows, type Example } from '../data/tokenize-rows';
import { loadBase, type LoadedBase } from '../util/load-model';
import { findMethod } from '../util/methods';
import { createSeededRandom, shuffled, withSeededMathRandom } from '../util/seeded-random';
import { UsageError } from '../util/usage-error';
import { causalLmBatchLoss, evaluateCausalLm, type EvalResult } from './evaluate-loss';
import { writeLossCurve } from './loss-curve';

export const TRAIN_DEFAULTS = {
  epochs: 3,
  batchSize: 8,
  lr: 1e-3,
  maxLength: 256,
  seed: 42,
  evalSplit: 0.1,
  maxGradNorm: 1.0,
} as const;

export interface StepProgress {
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number;
  tokensPerSecond: number;
  etaSeconds: number;
}

export interface TrainAdapterOptions {
  /** A model folder or Hub repo id, or a base already loaded with `loadBase`. */
  base: string | LoadedBase;
  rows: readonly DataRow[];
  /** A registered method: lora, ia3, prompt-tuning, … */
  method: string;
  /** Method config fields, snake_case (from --config and the method flags). */
  config?: Record<string, unknown>;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  maxLength?: number;
  seed?: number;
  /** Fraction (0–1) or number (≥ 1) of rows held out for evaluation. */
  evalSplit?: number;
  /** Clip gradients to this global norm (transformers' default 1); 0 turns clipping off. */
  maxGradNorm?: number;
  /** Recompute each decoder layer in the backward pass instead of keeping its activations. */
  gradientCheckpointing?: boolean;
  /** Write the adapter, training_log.json and loss_curve.png here. */
  out?: string;
  revision?: string;
  dataSource?: string;
  onStep?: (progress: StepProgress) => void;
  log?: (line: string) => void;
}

export interface TrainingLogStep {
  step: number;
  epoch: number;
  loss: number;
  learning_rate: number;
  tokens: number;
  seconds: number;
}

export interface TrainingLog {
  method: string;
  peft_type: string;
  base: string;
  data: string | null;
  backend: string;
  args: { epochs: number; batch_size: number; lr: number; max_length: number; seed: number; eval_split: number; max_grad_norm: number };
  adapter_config: Record<string, unknown>;
  trainable_parameters: string;
  train_rows: number;
  eval_rows: number;
  total_steps: number;
  steps: TrainingLogStep[];
  evals: Array<{ epoch: number; step: number; loss: number; perplexity: number; tokens: number }>;
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
  finalEval: EvalResult | undefined;
}

function evalCount(rows: number, split: number): number {
  if (!(split >= 0)) throw new UsageError(`--eval-split must be ≥ 0, got ${split}`);
  const count = split >= 1 ? Math.floor(split) : Math.round(rows * split);
  if (count >= rows) throw new UsageError(`--eval-split ${split} leaves no rows to train on (${rows} rows)`);
  return split > 0 && rows >= 2 ? Math.max(count, 1) : 0;
}

function positiveInteger(value: number, flag: string): number {
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`${flag} must be a positive integer, got ${value}`);
  return value;
}

/**
 * Trains a PEFT adapter on a causal LM: tokenizes the rows, holds out an eval split, runs Adam
 * with a linearly decaying learning rate and gradient clipping over shuffled batches (seeded:
 * the same seed, data and backend give the same adapter), evaluates before training and after
 * each epoch, and writes the adapter in PEFT's format, training_log.json and loss_curve.png.
 */
export async function trainAdapter(options: TrainAdapterOptions): Promise<TrainAdapterResult> {
  const log = options.log ?? (() => {});
  const epochs = positiveInteger(options.epochs ?? TRAIN_DEFAULTS.epochs, '--epochs');
  const batchSize = positiveInteger(options.batchSize ?? TRAIN_DEFAULTS.batchSize, '--batch-size');
  const maxLength = positiveInteger(options.maxLength ?? TRAIN_DEFAULTS.maxLength, '--max-length');
  const lr = options.lr ?? TRAIN_DEFAULTS.lr;
  if (!(lr > 0)) throw new UsageError(`--lr must be > 0, got ${lr}`);
  const seed = options.seed ?? TRAIN_DEFAULTS.seed;
  if (!Number.isInteger(seed)) throw new UsageError(`--seed must be an integer, got ${seed}`);
  const evalSplit = options.evalSplit ?? TRAIN_DEFAULTS.evalSplit;
  const maxGradNorm = options.maxGradNorm ?? TRAIN_DEFAULTS.maxGradNorm;
  const method = findMethod(options.method);

  const base = typeof options.base === 'string' ? await loadBase(options.base, { revision: options.revision, task: 'causal-lm' }) : options.base;
  if (base.task !== 'causal-lm') throw new UsageError(`train fine-tunes causal language models; ${base.folder} is a ${base.task} model`);
  const vocabSize = typeof base.config.vocab_size === 'number' ? base.config.vocab_size : undefined;
  const padTokenId = base.tokenizer?.padTokenId ?? base.tokenizer?.eosTokenId ?? (typeof base.config.pad_token_id === 'number' ? base.config.pad_token_id : 0);
  const examples = tokenizeRows(options.rows, { tokenizer: base.tokenizer, maxLength, vocabSize, source: options.dataSource ?? 'data' });

  return withSeededMathRandom(seed, async () => {
    const random = createSeededRandom(seed ^ 0x9e3779b9);
    const order = shuffled(examples, random);
    const evalRows = evalCount(examples.length, evalSplit);
    const evalSet = order.slice(0, evalRows);
    const trainSet = order.slice(evalRows);

    const rawConfig = { ...(options.config ?? {}), peft_type: method.peftType, task_type: 'CAUSAL_LM', base_model_name_or_path: typeof options.base === 'string' ? options.base : base.folder };
    if (options.config?.task_type !== undefined) rawConfig.task_type = options.config.task_type as string;
    const config = method.tuner.parseConfig(rawConfig);
    const peftModel = getPeftModel(base.model, config);
    const trainable = peftModel.trainableParametersReport();
    log(trainable);

    const model = peftModel.model;
    const variables = model.trainableWeights.map((weight) => weight.read() as tf.Variable);
    const optimizer = tf.train.adam(lr);
    const stepsPerEpoch = Math.ceil(trainSet.length / batchSize);
    const totalSteps = stepsPerEpoch * epochs;
    const steps: TrainingLogStep[] = [];
    const evals: TrainingLog['evals'] = [];
    const evaluate = async (epoch: number, step: number) => {
      if (evalSet.length === 0) return undefined;
      const result = await evaluateCausalLm(model, evalSet, { batchSize, padTokenId });
      evals.push({ epoch, step, ...result });
      return result;
    };
    const before = await evaluate(0, 0);
    if (before) log(`eval before training: loss ${before.loss.toFixed(4)}, perplexity ${before.perplexity.toFixed(2)} (${evalSet.length} rows, ${before.tokens} tokens)`);

    const started = performance.now();
    let tokensSeen = 0;
    let step = 0;
    for (let epoch = 1; epoch <= epochs; epoch++) {
      const batches = shuffled(trainSet, random);
      for (let start = 0; start < batches.length; start += batchSize) {
        const learningRate = lr * (1 - step / totalSteps);
        (optimizer as unknown as { learningRate: number }).learningRate = learningRate;
        const padded = padBatch(batches.slice(start, start + batchSize) as Example[], padTokenId);
        const inputIds = tf.tensor2d(padded.inputIds, undefined, 'int32');
        const attentionMask = tf.tensor2d(padded.attentionMask, undefined, 'float32');
        const labels = tf.tensor2d(padded.labels, undefined, 'int32');
        const { value, grads } = tf.variableGrads(() => causalLmBatchLoss(model, { inputIds, attentionMask, labels }, true, { gradientCheckpointing: options.gradientCheckpointing }), variables);
        if (maxGradNorm > 0) {
          const clipped = tf.tidy(() => {
            // A chain of adds, not tf.addN: tfjs-backend-webgpu 4.22 caches AddN's shader under one
            // key whatever the input count, so a later call with more inputs sums only some of them.
            const norm = tf.sqrt(Object.values(grads).map((grad) => tf.sum(tf.square(grad))).reduce((sum, term) => tf.add(sum, term)));
            const scale = tf.minimum(tf.scalar(1), tf.div(tf.scalar(maxGradNorm), tf.add(norm, 1e-6)));
            return Object.fromEntries(Object.entries(grads).map(([name, grad]) => [name, tf.mul(grad, scale)]));
          });
          optimizer.applyGradients(clipped as tf.NamedTensorMap as never);
          tf.dispose(Object.values(clipped));
        } else optimizer.applyGradients(grads as never);
        const loss = (await value.data())[0]!;
        tf.dispose([value, ...Object.values(grads), inputIds, attentionMask, labels]);
        if (!Number.isFinite(loss)) throw new Error(`the loss became ${loss} at step ${step + 1}; lower --lr`);
        step++;
        tokensSeen += padded.tokens;
        const seconds = (performance.now() - started) / 1000;
        steps.push({ step, epoch, loss, learning_rate: learningRate, tokens: padded.tokens, seconds });
        const tokensPerSecond = tokensSeen / Math.max(seconds, 1e-9);
        options.onStep?.({ step, totalSteps, epoch, loss, tokensPerSecond, etaSeconds: (seconds / step) * (totalSteps - step) });
      }
      const result = await evaluate(epoch, step);
      if (result) log(`epoch ${epoch}/${epochs}: train loss ${steps.at(-1)!.loss.toFixed(4)}, eval loss ${result.loss.toFixed(4)}, perplexity ${result.perplexity.toFixed(2)}`);
      else log(`epoch ${epoch}/${epochs}: train loss ${steps.at(-1)!.loss.toFixed(4)}`);
    }
    optimizer.dispose();
    const seconds = (performance.now() - started) / 1000;
    const trainingLog: TrainingLog = {
      method: method.name,
      peft_type: method.peftType,
      base: typeof options.base === 'string' ? options.base : base.folder,
      data: options.dataSource ?? null,
      backend: tf.getBackend(),
      args: { epochs, batch_size: batchSize, lr, max_length: maxLength, seed, eval_split: evalSplit, max_grad_norm: maxGradNorm },
      adapter_config: method.tuner.serializeConfig(peftModel.peftConfig.default ?? config),
      trainable_parameters: trainable,
      train_rows: trainSet.length,
      eval_rows: evalSet.length,
      total_steps: totalSteps,
      steps,
      evals,
      train_tokens: tokensSeen,
      seconds,
      tokens_per_second: tokensSeen / Math.max(seconds, 1e-9),
    };
    const files: string[] = [];
    if (options.out) {
      await mkdir(options.out, { recursive: true });
      const saved = await savePretrained(peftModel, options.out);
      files.push(...saved.flatMap((adapter) => adapter.files.map((file) => (file.startsWith(adapter.folder) ? file : join(adapter.folder, file)))));
      await writeFile(join(options.out, 'training_log.json'), `${JSON.stringify(trainingLog, null, 2)}\n`);
      await writeLossCurve(join(options.out, 'loss_curve.png'), [
        { label: 'train', points: steps.map((entry) => [entry.step, entry.loss] as const), color: [31, 119, 180] },
        ...(evals.length > 0 ? [{ label: 'eval', points: evals.map((entry) => [entry.step, entry.loss] as const), color: [214, 39, 40] as const }] : []),
      ]);
      files.push(join(options.out, 'training_log.json'), join(options.out, 'loss_curve.png'));
    }
    return { peftModel, base, log: trainingLog, files, finalEval: evals.length > 1 ? evals.at(-1) : undefined };
  });
}
