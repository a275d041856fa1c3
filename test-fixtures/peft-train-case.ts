import { readFileSync } from 'node:fs';
import { loadSafetensorsData, serializeSafetensors, type LoadedTensorData, type TensorData } from '@peftjs/hub';
import { peftTrainFixturePath } from './index';

export interface Tolerance {
  atol: number;
  rtol: number;
}

/** One training-trajectory case (see peft-train/README.md), read from its files. */
export interface TrainCase {
  name: string;
  folder: string;
  train: Record<string, any>;
  case: Record<string, any>;
  rows: number[][];
  io: Record<string, LoadedTensorData>;
  tolerances: Record<'losses' | 'grad_norms' | 'clip_coefs' | 'grads' | 'params', Tolerance>;
  steps: number;
  /** The trainable keys in PEFT's order. */
  keys: string[];
  /** The case's recipe as the engine's TrainingArguments (camelCase). */
  args: Record<string, unknown>;
  padTokenId: number;
}

export function trainCaseNames(): string[] {
  return Object.keys(JSON.parse(readFileSync(peftTrainFixturePath('index.json'), 'utf8')).cases);
}

export async function readTrainCase(name: string): Promise<TrainCase> {
  const folder = peftTrainFixturePath(name);
  const train = JSON.parse(readFileSync(`${folder}/train.json`, 'utf8'));
  const caseJson = JSON.parse(readFileSync(`${folder}/case.json`, 'utf8'));
  const rows = readFileSync(`${folder}/data.jsonl`, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line).input_ids as number[]);
  const io = await loadSafetensorsData(readFileSync(`${folder}/io.safetensors`));
  const optimizer = train.optimizer;
  const args = {
    learningRate: optimizer.lr,
    weightDecay: optimizer.weight_decay,
    adamBeta1: optimizer.betas[0],
    adamBeta2: optimizer.betas[1],
    adamEpsilon: optimizer.eps,
    optim: optimizer.name,
    lrSchedulerType: train.lr_scheduler.name,
    warmupSteps: train.lr_scheduler.warmup_steps ?? 0,
    gradientAccumulationSteps: train.gradient_accumulation_steps,
    maxGradNorm: train.max_grad_norm ?? 0,
    maxSteps: train.steps,
    perDeviceTrainBatchSize: train.batch_size,
    shuffle: false,
  };
  return {
    name,
    folder,
    train,
    case: caseJson,
    rows,
    io,
    tolerances: caseJson.tolerances,
    steps: train.steps,
    keys: train.trainable_parameters.map((entry: { key: string }) => entry.key),
    args,
    padTokenId: train.padding.pad_token_id,
  };
}

/** The initial value of every trainable tensor, from init-adapter/ or io `init/<key>`, keyed like --init-state. */
export async function initialState(trainCase: TrainCase): Promise<Record<string, TensorData>> {
  const adapter = await loadSafetensorsData(readFileSync(`${trainCase.folder}/init-adapter/adapter_model.safetensors`));
  const result: Record<string, TensorData> = {};
  for (const entry of trainCase.train.trainable_parameters as Array<{ key: string; initial_values: string }>) {
    const source = entry.initial_values.startsWith('io:') ? trainCase.io[entry.initial_values.slice(3)] : adapter[entry.key];
    if (!source) throw new Error(`${trainCase.name}: no initial value for ${entry.key} (${entry.initial_values})`);
    result[entry.key] = source;
  }
  return result;
}

/** The initial state as an --init-state safetensors file's bytes. */
export async function initialStateFile(trainCase: TrainCase): Promise<Uint8Array> {
  return serializeSafetensors(await initialState(trainCase), { metadata: { format: 'pt' } });
}

/** The snapshot of `key` after optimizer step `step` (`final/` after the last). */
export function snapshot(trainCase: TrainCase, step: number, key: string): LoadedTensorData | undefined {
  return trainCase.io[step === trainCase.steps ? `final/${key}` : `step${step}/${key}`];
}

/** Keys of every snapshot tensor after a step (trainable tensors and adapter-file tensors). */
export function snapshotKeys(trainCase: TrainCase, step: number): string[] {
  const prefix = step === trainCase.steps ? 'final/' : `step${step}/`;
  return Object.keys(trainCase.io)
    .filter((key) => key.startsWith(prefix))
    .map((key) => key.slice(prefix.length));
}

/** The worst |actual - expected| / (atol + rtol |expected|) over the elements; ≤ 1 is within tolerance. */
export function toleranceFraction(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: Tolerance): number {
  if (actual.length !== expected.length) return Infinity;
  let worst = 0;
  for (let index = 0; index < expected.length; index++) {
    const fraction = Math.abs(actual[index]! - expected[index]!) / (tolerance.atol + tolerance.rtol * Math.abs(expected[index]!));
    if (!(fraction <= worst)) worst = Number.isNaN(fraction) ? Infinity : fraction;
  }
  return worst;
}

/** The case's recipe as `peftjs train` flags. */
export function recipeFlags(trainCase: TrainCase): string[] {
  const { train } = trainCase;
  return [
    '--base', `${trainCase.folder}/base`,
    '--data', `${trainCase.folder}/data.jsonl`,
    '--max-steps', String(train.steps),
    '--batch-size', String(train.batch_size),
    '--gradient-accumulation-steps', String(train.gradient_accumulation_steps),
    '--optimizer', train.optimizer.name,
    '--lr', String(train.optimizer.lr),
    '--weight-decay', String(train.optimizer.weight_decay),
    '--adam-beta1', String(train.optimizer.betas[0]),
    '--adam-beta2', String(train.optimizer.betas[1]),
    '--adam-epsilon', String(train.optimizer.eps),
    '--lr-scheduler', train.lr_scheduler.name,
    '--warmup-steps', String(train.lr_scheduler.warmup_steps ?? 0),
    '--max-grad-norm', String(train.max_grad_norm ?? 0),
    '--no-shuffle',
    '--pad-token-id', String(train.padding.pad_token_id),
    '--no-progress',
  ];
}
