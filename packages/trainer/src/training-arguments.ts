import { TrainingArgumentsError } from './errors';

export const OPTIMIZERS = ['adamw', 'adam', 'sgd'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

export const LR_SCHEDULER_TYPES = ['constant', 'constant_with_warmup', 'linear', 'cosine'] as const;
export type LrSchedulerType = (typeof LR_SCHEDULER_TYPES)[number];

/**
 * Hugging Face TrainingArguments' essentials under the same names (camelCase here, snake_case in
 * JSON: see `trainingArgumentsToJson`). Every field has HF's default unless noted.
 */
export interface TrainingArguments {
  /** Peak learning rate. HF default 5e-5. */
  learningRate: number;
  /** AdamW's decoupled decay (Adam: L2 added to the gradient; SGD: likewise). Biases and norm weights are never decayed. */
  weightDecay: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEpsilon: number;
  /** HF's `optim`: `adamw` (torch.optim.AdamW), `adam` (torch.optim.Adam), `sgd` (torch.optim.SGD, no momentum). */
  optim: OptimizerName;
  lrSchedulerType: LrSchedulerType;
  /** Warm-up steps; when 0, `ceil(warmupRatio * total steps)`. Warm-up starts at lr 0. */
  warmupSteps: number;
  warmupRatio: number;
  /** Micro-batches per optimizer step; the step gradient is the mean of the micro-batch mean losses' gradients. */
  gradientAccumulationSteps: number;
  /** Clip the global gradient norm to this (torch's clip_grad_norm_); 0 turns clipping off. */
  maxGradNorm: number;
  /** Passes over the data, when maxSteps is not set (> 0). May be fractional. */
  numTrainEpochs: number;
  /** Optimizer steps; overrides numTrainEpochs when > 0. */
  maxSteps: number;
  /** Rows per micro-batch. HF default 8. */
  perDeviceTrainBatchSize: number;
  perDeviceEvalBatchSize: number;
  /** A seeded reshuffle of the rows every epoch (HF's RandomSampler); false keeps file order. */
  shuffle: boolean;
  /** Seeds the shuffle and every dropout mask. */
  seed: number;
  /** Evaluate every N optimizer steps (0: only when asked). */
  evalSteps: number;
  /** Checkpoint every N optimizer steps (0: only after the last step). A checkpoint is always written after the last step when a storage is given. */
  saveSteps: number;
  /** Keep at most this many checkpoints (the oldest go first); 0 keeps all. */
  saveTotalLimit: number;
}

export const DEFAULT_TRAINING_ARGUMENTS: Readonly<TrainingArguments> = Object.freeze({
  learningRate: 5e-5,
  weightDecay: 0,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEpsilon: 1e-8,
  optim: 'adamw',
  lrSchedulerType: 'linear',
  warmupSteps: 0,
  warmupRatio: 0,
  gradientAccumulationSteps: 1,
  maxGradNorm: 1,
  numTrainEpochs: 3,
  maxSteps: -1,
  perDeviceTrainBatchSize: 8,
  perDeviceEvalBatchSize: 8,
  shuffle: true,
  seed: 42,
  evalSteps: 0,
  saveSteps: 0,
  saveTotalLimit: 0,
});

function camelToSnake(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`).replace(/adam_beta_(\d)/, 'adam_beta$1');
}

const SNAKE_NAMES = Object.fromEntries(Object.keys(DEFAULT_TRAINING_ARGUMENTS).map((key) => [key, camelToSnake(key)])) as Record<keyof TrainingArguments, string>;

function check(condition: boolean, field: keyof TrainingArguments, value: unknown, expected: string): void {
  if (!condition) throw new TrainingArgumentsError(`training argument ${SNAKE_NAMES[field]} must be ${expected}, got ${JSON.stringify(value)}`, { field: SNAKE_NAMES[field] });
}

/** Fills defaults and checks every value (a TrainingArgumentsError names the bad one). */
export function resolveTrainingArguments(partial: Partial<TrainingArguments> = {}): TrainingArguments {
  const known = new Set(Object.keys(DEFAULT_TRAINING_ARGUMENTS));
  for (const key of Object.keys(partial)) {
    if (!known.has(key)) throw new TrainingArgumentsError(`unknown training argument "${key}"; known: ${[...known].join(', ')}`, { field: key });
  }
  const defined = Object.fromEntries(Object.entries(partial).filter(([, value]) => value !== undefined));
  const args = { ...DEFAULT_TRAINING_ARGUMENTS, ...defined } as TrainingArguments;
  const finite = (field: keyof TrainingArguments, minimum: number, text = `a number ≥ ${minimum}`) =>
    check(typeof args[field] === 'number' && Number.isFinite(args[field] as number) && (args[field] as number) >= minimum, field, args[field], text);
  const integer = (field: keyof TrainingArguments, minimum: number) =>
    check(Number.isInteger(args[field]) && (args[field] as number) >= minimum, field, args[field], `an integer ≥ ${minimum}`);
  finite('learningRate', 0);
  finite('weightDecay', 0);
  check(args.adamBeta1 >= 0 && args.adamBeta1 < 1, 'adamBeta1', args.adamBeta1, 'in [0, 1)');
  check(args.adamBeta2 >= 0 && args.adamBeta2 < 1, 'adamBeta2', args.adamBeta2, 'in [0, 1)');
  finite('adamEpsilon', 0);
  check(OPTIMIZERS.includes(args.optim), 'optim', args.optim, `one of ${OPTIMIZERS.join(', ')}`);
  check(LR_SCHEDULER_TYPES.includes(args.lrSchedulerType), 'lrSchedulerType', args.lrSchedulerType, `one of ${LR_SCHEDULER_TYPES.join(', ')}`);
  integer('warmupSteps', 0);
  check(args.warmupRatio >= 0 && args.warmupRatio <= 1, 'warmupRatio', args.warmupRatio, 'in [0, 1]');
  integer('gradientAccumulationSteps', 1);
  finite('maxGradNorm', 0);
  check(Number.isFinite(args.numTrainEpochs) && args.numTrainEpochs > 0, 'numTrainEpochs', args.numTrainEpochs, 'a number > 0');
  check(Number.isInteger(args.maxSteps) && (args.maxSteps === -1 || args.maxSteps >= 1), 'maxSteps', args.maxSteps, 'an integer ≥ 1 (or -1: use num_train_epochs)');
  integer('perDeviceTrainBatchSize', 1);
  integer('perDeviceEvalBatchSize', 1);
  check(typeof args.shuffle === 'boolean', 'shuffle', args.shuffle, 'true or false');
  check(Number.isInteger(args.seed), 'seed', args.seed, 'an integer');
  integer('evalSteps', 0);
  integer('saveSteps', 0);
  integer('saveTotalLimit', 0);
  return args;
}

/** The arguments as JSON with HF's snake_case names (`learning_rate`, `adam_beta1`, …). */
export function trainingArgumentsToJson(args: TrainingArguments): Record<string, unknown> {
  return Object.fromEntries(Object.entries(args).map(([key, value]) => [SNAKE_NAMES[key as keyof TrainingArguments], value]));
}

/** snake_case JSON (e.g. a train.json or trainer_state.json) → arguments; unknown keys throw. */
export function trainingArgumentsFromJson(json: Readonly<Record<string, unknown>>): Partial<TrainingArguments> {
  const byName = new Map(Object.entries(SNAKE_NAMES).map(([camel, snake]) => [snake, camel]));
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    const camel = byName.get(key);
    if (!camel) throw new TrainingArgumentsError(`unknown training argument "${key}"; known: ${[...byName.keys()].join(', ')}`, { field: key });
    result[camel] = value;
  }
  return result as Partial<TrainingArguments>;
}
