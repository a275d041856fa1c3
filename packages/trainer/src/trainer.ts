import * as tf from '@tensorflow/tfjs-core';
import { getTuner, serializePeftConfig, type PeftModel, type TrainingHookContext } from '@peftjs/core';
import { adapterFilesFromPeftModel, type LoadedTensorData, type TensorData } from '@peftjs/hub';
import { causalLmBatchLoss, type ComputeLoss } from './causal-lm-loss';
import {
  checkpointFolder,
  listCheckpoints,
  pruneCheckpoints,
  readCheckpoint,
  removeTemporaryCheckpoints,
  resolveCheckpoint,
  TRAINER_STATE_FORMAT,
  writeCheckpoint,
  type LoadedCheckpoint,
} from './checkpoint';
import type { CheckpointStorage } from './checkpoint-storage';
import { DataOrder } from './data-order';
import { CheckpointError, TrainingArgumentsError } from './errors';
import { learningRateAt, warmupStepsOf } from './learning-rate-schedule';
import { TorchOptimizer } from './optimizer';
import { streamSeed, STREAM_DROPOUT, withSeededMathRandom } from './seeded-random';
import { checkTrainableState, loadTrainableState, readTrainableState } from './trainable-state';
import { trainableParameters, type TrainableParameter } from './trainable-parameters';
import { collate, type TrainingExample } from './training-example';
import { resolveTrainingArguments, trainingArgumentsToJson, type TrainingArguments } from './training-arguments';

const f = Math.fround;

/** One optimizer step in the training log (snake_case: it is written as JSON). */
export interface StepLogEntry {
  step: number;
  /** Fractional epoch after this step. */
  epoch: number;
  /** The mean of the step's micro-batch losses, before the division by gradient_accumulation_steps. */
  loss: number;
  /** The global gradient norm before clipping. */
  grad_norm: number;
  /** The learning rate this step used. */
  learning_rate: number;
  /** Seconds since training began (a resumed run continues the count). */
  seconds: number;
  /** Real tokens in the step's micro-batches. */
  tokens: number;
}

export interface EvaluationLogEntry {
  step: number;
  epoch: number;
  /** HF's eval_loss: the mean of the batch losses, each weighted by its rows. */
  eval_loss: number;
  perplexity: number;
  rows: number;
}

/** What a step callback gets beside the log entry. */
export interface StepDetails {
  /** The losses of the step's micro-batches, before the division by accumulation. */
  readonly losses: readonly number[];
  /** The factor the gradients were multiplied by (1 when clipping is off or did not engage). */
  readonly clipCoefficient: number;
  readonly totalSteps: number;
  /** The accumulated gradients before clipping, torch layout, by key (absent: no gradient reached the tensor). */
  readonly gradients: ReadonlyMap<string, Float32Array>;
}

export interface TrainerCallbacks {
  onStep?(entry: StepLogEntry, details: StepDetails): void | Promise<void>;
  onEvaluate?(entry: EvaluationLogEntry): void | Promise<void>;
  onSave?(checkpoint: { step: number; folder: string }): void | Promise<void>;
  /** Polled before the first step and after each step: true ends training there (a checkpoint is written when a storage is given). */
  shouldStop?(): boolean;
}

export interface TrainerOptions {
  peftModel: PeftModel;
  args?: Partial<TrainingArguments>;
  trainDataset: readonly TrainingExample[];
  evalDataset?: readonly TrainingExample[];
  /** The id padding positions get (their labels are -100 and their mask 0, so it does not change the loss). Default 0. */
  padTokenId?: number;
  /** A micro-batch's loss; default: the causal-LM loss of transformers. */
  computeLoss?: ComputeLoss;
  /** Where checkpoints go; without it nothing is saved. */
  storage?: CheckpointStorage;
  outputDir?: string;
  callbacks?: TrainerCallbacks;
}

export interface TrainResult {
  globalStep: number;
  totalSteps: number;
  log: StepLogEntry[];
  evaluations: EvaluationLogEntry[];
  /** Whether shouldStop ended the run early. */
  stopped: boolean;
  /** Folders of the checkpoints written by this call. */
  checkpoints: string[];
}

interface RunState {
  globalStep: number;
  microBatch: number;
  secondsBefore: number;
  log: StepLogEntry[];
  evaluations: EvaluationLogEntry[];
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** Config fields that may differ between a checkpoint and the run resuming it: where the files came from, and how the weights were first initialised (the checkpoint's values replace them). */
const IGNORED_CONFIG_FIELDS = new Set([
  'inference_mode',
  'base_model_name_or_path',
  'revision',
  'init_lora_weights',
  'init_ia3_weights',
  'prompt_tuning_init',
  'prompt_tuning_init_text',
  'tokenizer_name_or_path',
  'tokenizer_kwargs',
]);

/**
 * The training engine: Hugging Face Trainer's recipe (AdamW with decoupled decay and HF's decay
 * groups, LambdaLR schedules with warm-up from lr 0, gradient accumulation over micro-batch means,
 * torch's gradient clipping), step for step equal to PyTorch in float32; evaluation, callbacks,
 * tuners' per-step hooks, and checkpoints that resume bit-identically.
 */
export class Trainer {
  readonly peftModel: PeftModel;
  readonly args: TrainingArguments;
  readonly trainable: readonly TrainableParameter[];
  readonly optimizer: TorchOptimizer;
  private readonly options: TrainerOptions;
  private readonly order: DataOrder;
  private readonly computeLoss: ComputeLoss;
  private state: RunState = { globalStep: 0, microBatch: 0, secondsBefore: 0, log: [], evaluations: [] };

  constructor(options: TrainerOptions) {
    this.options = options;
    this.peftModel = options.peftModel;
    this.args = resolveTrainingArguments(options.args);
    if (options.trainDataset.length === 0) throw new TrainingArgumentsError('the training data set is empty', { field: 'train_dataset' });
    for (const [index, example] of options.trainDataset.entries()) {
      if (example.inputIds.length < 2)
        throw new TrainingArgumentsError(`training row ${index + 1} has ${example.inputIds.length} token(s); a causal LM needs at least 2`, { field: 'train_dataset' });
      if (example.labels && example.labels.length !== example.inputIds.length) {
        throw new TrainingArgumentsError(`training row ${index + 1}: labels has ${example.labels.length} entries, input_ids ${example.inputIds.length}`, {
          field: 'train_dataset',
        });
      }
    }
    if ((options.storage === undefined) !== (options.outputDir === undefined))
      throw new TrainingArgumentsError('give both storage and outputDir (checkpoints), or neither', { field: 'output_dir' });
    this.trainable = trainableParameters(this.peftModel);
    if (this.trainable.length === 0) throw new TrainingArgumentsError('the model has no trainable tensor: is the adapter in inference mode?', { field: 'inference_mode' });
    this.optimizer = new TorchOptimizer({ name: this.args.optim, beta1: this.args.adamBeta1, beta2: this.args.adamBeta2, epsilon: this.args.adamEpsilon });
    this.order = new DataOrder({ rows: options.trainDataset.length, batchSize: this.args.perDeviceTrainBatchSize, shuffle: this.args.shuffle, seed: this.args.seed });
    this.computeLoss = options.computeLoss ?? causalLmBatchLoss;
  }

  /** Optimizer steps of the whole run: max_steps, else ceil(epochs × max(batches per epoch // accumulation, 1)) as HF. */
  get totalSteps(): number {
    if (this.args.maxSteps > 0) return this.args.maxSteps;
    const perEpoch = Math.max(Math.floor(this.order.batchesPerEpoch / this.args.gradientAccumulationSteps), 1);
    return Math.ceil(this.args.numTrainEpochs * perEpoch);
  }

  get warmupSteps(): number {
    return warmupStepsOf(this.args.warmupSteps, this.args.warmupRatio, this.totalSteps);
  }

  get globalStep(): number {
    return this.state.globalStep;
  }

  /** The learning rate optimizer step `step` (1-based) runs with. */
  learningRate(step: number): number {
    return learningRateAt(this.args.learningRate, this.args.lrSchedulerType, step, this.warmupSteps, this.totalSteps);
  }

  /** Every trainable tensor in torch layout, by key. */
  trainableState(): Promise<Record<string, TensorData>> {
    return readTrainableState(this.peftModel, this.trainable);
  }

  /**
   * Trains up to the total steps (or until shouldStop), from the start or from a checkpoint
   * (`resumeFromCheckpoint`: a folder, or `latest` under the output folder).
   */
  async train(options: { resumeFromCheckpoint?: string } = {}): Promise<TrainResult> {
    if (options.resumeFromCheckpoint !== undefined) await this.resume(options.resumeFromCheckpoint);
    if (this.options.storage && this.options.outputDir !== undefined) await removeTemporaryCheckpoints(this.options.storage, this.options.outputDir);
    const started = performance.now();
    const seconds = () => this.state.secondsBefore + (performance.now() - started) / 1000;
    const checkpoints: string[] = [];
    const total = this.totalSteps;
    // shouldStop is polled once before the first step, then once after each step.
    let stopped = this.state.globalStep < total && this.options.callbacks?.shouldStop?.() === true;
    while (!stopped && this.state.globalStep < total) {
      const { entry, details } = await this.step(seconds);
      this.state.log.push(entry);
      await this.options.callbacks?.onStep?.(entry, details);
      const step = this.state.globalStep;
      if (this.args.evalSteps > 0 && step % this.args.evalSteps === 0 && (this.options.evalDataset?.length ?? 0) > 0) await this.evaluate();
      stopped = step < total && this.options.callbacks?.shouldStop?.() === true;
      if (this.options.storage && ((this.args.saveSteps > 0 && step % this.args.saveSteps === 0) || step === total || stopped)) {
        checkpoints.push(await this.saveCheckpoint(seconds()));
      }
    }
    return { globalStep: this.state.globalStep, totalSteps: total, log: [...this.state.log], evaluations: [...this.state.evaluations], stopped, checkpoints };
  }

  private variables(): tf.Variable[] {
    return this.trainable.map((entry) => entry.param.variable.read() as tf.Variable);
  }

  private hookContexts(): Array<{ hooks: NonNullable<ReturnType<typeof getTuner>['training']>; context: TrainingHookContext }> {
    const result = [];
    for (const adapterName of this.peftModel.activeAdapters) {
      const config = this.peftModel.peftConfig[adapterName];
      const hooks = config ? getTuner(config.peftType).training : undefined;
      if (hooks) result.push({ hooks, context: { peftModel: this.peftModel, adapterName, globalStep: this.state.globalStep } });
    }
    return result;
  }

  /** One optimizer step: accumulate, clip, update, run the tuners' hooks. */
  private async step(seconds: () => number): Promise<{ entry: StepLogEntry; details: StepDetails }> {
    const accumulation = this.args.gradientAccumulationSteps;
    const variables = this.variables();
    const slot = new Map(variables.map((variable, index) => [variable.name, index] as const));
    const accumulated: Array<Float32Array | undefined> = this.trainable.map(() => undefined);
    const losses: number[] = [];
    let tokens = 0;
    const hooks = this.hookContexts();
    for (let micro = 0; micro < accumulation; micro++) {
      const rows = this.order.microBatch(this.state.microBatch).map((index) => this.options.trainDataset[index]!);
      const batch = collate(rows, this.options.padTokenId ?? 0);
      tokens += batch.tokens;
      let unscaled: tf.Scalar | undefined;
      // Dropout masks come from a stream of (seed, micro-batch): a resumed run draws the same ones.
      const { value, grads } = withSeededMathRandom(streamSeed(this.args.seed, STREAM_DROPOUT, this.state.microBatch), () =>
        tf.variableGrads(() => {
          let loss = this.computeLoss(this.peftModel.model, batch, { training: true });
          for (const { hooks: tunerHooks, context } of hooks) {
            const extra = tunerHooks.extraLoss?.(context);
            if (extra) loss = tf.add(loss, extra) as tf.Scalar;
          }
          unscaled = tf.keep(tf.clone(loss));
          return accumulation === 1 ? loss : (tf.div(loss, accumulation) as tf.Scalar);
        }, variables),
      );
      try {
        losses.push((await unscaled!.data())[0]!);
        for (const [name, gradient] of Object.entries(grads)) {
          const index = slot.get(name);
          if (index === undefined) continue;
          const values = (await gradient.data()) as Float32Array;
          const sum = accumulated[index];
          if (!sum) accumulated[index] = Float32Array.from(values);
          else for (let element = 0; element < sum.length; element++) sum[element] = f(sum[element]! + values[element]!);
        }
      } finally {
        tf.dispose([value, unscaled!, ...Object.values(grads)]);
      }
      this.state.microBatch++;
    }
    const loss = mean(losses);
    if (!Number.isFinite(loss)) throw new Error(`the loss became ${loss} at step ${this.state.globalStep + 1}; lower the learning rate`);

    // torch's clip_grad_norm_: the norm of every gradient together, factor max_norm / (norm + 1e-6), capped at 1.
    let squares = 0;
    for (const gradient of accumulated) if (gradient) for (const value of gradient) squares += value * value;
    const gradNorm = f(Math.sqrt(squares));
    const gradientsBeforeClipping = new Map<string, Float32Array>();
    let clipCoefficient = 1;
    if (this.args.maxGradNorm > 0) clipCoefficient = Math.min(f(f(this.args.maxGradNorm) / f(gradNorm + f(1e-6))), 1);
    const wantsGradients = this.options.callbacks?.onStep !== undefined;
    this.trainable.forEach((entry, index) => {
      const gradient = accumulated[index];
      if (!gradient) return;
      if (wantsGradients) gradientsBeforeClipping.set(entry.key, gradient.slice());
      if (this.args.maxGradNorm > 0) for (let element = 0; element < gradient.length; element++) gradient[element] = f(gradient[element]! * clipCoefficient);
    });

    const step = this.state.globalStep + 1;
    const learningRate = this.learningRate(step);
    const entries = [];
    for (const [index, entry] of this.trainable.entries()) {
      const gradient = accumulated[index];
      // torch skips a parameter without a gradient (no decay, no moment update).
      if (!gradient) continue;
      const values = Float32Array.from((await entry.param.variable.read().data()) as Float32Array);
      entries.push({ key: entry.key, values, gradient, weightDecay: entry.decay ? this.args.weightDecay : 0, parameter: entry });
    }
    this.optimizer.step(entries, learningRate);
    for (const entry of entries) {
      const updated = tf.tensor(entry.values, entry.parameter.shape as number[], 'float32');
      entry.parameter.param.variable.write(updated);
      updated.dispose();
    }
    this.state.globalStep = step;
    if (hooks.some(({ hooks: tunerHooks }) => tunerHooks.afterOptimizerStep)) {
      const gradients = new Map<string, tf.Tensor>();
      this.trainable.forEach((entry, index) => {
        const gradient = accumulated[index];
        if (gradient) gradients.set(entry.param.variable.name, tf.tensor(gradient, entry.shape as number[], 'float32'));
      });
      try {
        for (const { hooks: tunerHooks, context } of hooks) tunerHooks.afterOptimizerStep?.({ ...context, globalStep: step, gradients });
      } finally {
        tf.dispose([...gradients.values()]);
      }
    }
    const torchGradients = new Map<string, Float32Array>();
    if (wantsGradients) {
      for (const entry of this.trainable) {
        const gradient = gradientsBeforeClipping.get(entry.key);
        if (!gradient) continue;
        const torch = tf.tidy(() => entry.param.toTorch(tf.tensor(gradient, entry.shape as number[], 'float32')));
        torchGradients.set(entry.key, (await torch.data()) as Float32Array);
        torch.dispose();
      }
    }
    const entry: StepLogEntry = {
      step,
      epoch: this.order.epochAt(this.state.microBatch),
      loss,
      grad_norm: gradNorm,
      learning_rate: learningRate,
      seconds: seconds(),
      tokens,
    };
    return { entry, details: { losses, clipCoefficient, totalSteps: this.totalSteps, gradients: torchGradients } };
  }

  /** The loss on the evaluation rows (no dropout), logged and passed to onEvaluate. */
  async evaluate(dataset: readonly TrainingExample[] | undefined = this.options.evalDataset): Promise<EvaluationLogEntry> {
    if (!dataset || dataset.length === 0) throw new TrainingArgumentsError('there are no evaluation rows to evaluate on', { field: 'eval_dataset' });
    let weighted = 0;
    for (let start = 0; start < dataset.length; start += this.args.perDeviceEvalBatchSize) {
      const rows = dataset.slice(start, start + this.args.perDeviceEvalBatchSize);
      const loss = this.computeLoss(this.peftModel.model, collate(rows, this.options.padTokenId ?? 0), { training: false });
      weighted += (await loss.data())[0]! * rows.length;
      loss.dispose();
    }
    const evalLoss = weighted / dataset.length;
    const entry: EvaluationLogEntry = {
      step: this.state.globalStep,
      epoch: this.order.epochAt(this.state.microBatch),
      eval_loss: evalLoss,
      perplexity: Math.exp(evalLoss),
      rows: dataset.length,
    };
    this.state.evaluations.push(entry);
    await this.options.callbacks?.onEvaluate?.(entry);
    return entry;
  }

  private adapterName(): string {
    return this.peftModel.activeAdapter ?? 'default';
  }

  /** A fingerprint of the frozen base: names, shapes and leading values of its weights. */
  async baseFingerprint(): Promise<string> {
    let hash = 0x811c9dc5;
    const mix = (text: string) => {
      for (let index = 0; index < text.length; index++) {
        hash ^= text.charCodeAt(index);
        hash = Math.imul(hash, 0x01000193) >>> 0;
      }
    };
    let sampled = 0;
    for (const [name, param] of this.peftModel.namedParameters()) {
      if (param.variable.trainable) continue;
      mix(`${name}:${param.variable.shape.join('x')};`);
      if (sampled < 4) {
        const head = tf.tidy(() => tf.slice(tf.reshape(param.variable.read(), [-1]), 0, Math.min(16, param.variable.read().size)));
        mix(Array.from((await head.data()) as Float32Array, (value) => value.toPrecision(9)).join(','));
        head.dispose();
        sampled++;
      }
    }
    return hash.toString(16).padStart(8, '0');
  }

  private adapterConfigJson(): Record<string, unknown> {
    return serializePeftConfig(this.peftModel.peftConfig[this.adapterName()]!);
  }

  /** Writes checkpoint-<global step> (atomically) and prunes old ones per save_total_limit. */
  async saveCheckpoint(seconds = this.state.log.at(-1)?.seconds ?? 0): Promise<string> {
    const { storage, outputDir } = this.options;
    if (!storage || outputDir === undefined) throw new TrainingArgumentsError('saving a checkpoint needs storage and outputDir', { field: 'output_dir' });
    const adapterFiles = await adapterFilesFromPeftModel(this.peftModel, { adapterName: this.adapterName() });
    const trainableState = await this.trainableState();
    const optimizerState: Record<string, TensorData> = { step: { dtype: 'int32', shape: [], values: Int32Array.of(this.optimizer.state.step) } };
    for (const entry of this.trainable) {
      const moments = this.optimizer.state.moments.get(entry.key);
      if (!moments) continue;
      for (const [name, values] of [
        ['exp_avg', moments.expAvg],
        ['exp_avg_sq', moments.expAvgSq],
      ] as const) {
        const torch = tf.tidy(() => entry.param.toTorch(tf.tensor(values, entry.shape as number[], 'float32')));
        optimizerState[`${name}/${entry.key}`] = { dtype: 'float32', shape: [...torch.shape], values: (await torch.data()) as Float32Array };
        torch.dispose();
      }
    }
    const step = this.state.globalStep;
    const trainerState = {
      format: TRAINER_STATE_FORMAT,
      global_step: step,
      epoch: this.order.epochAt(this.state.microBatch),
      max_steps: this.totalSteps,
      data_position: { micro_batch: this.state.microBatch, rows: this.order.rows, batch_size: this.order.batchSize, batches_per_epoch: this.order.batchesPerEpoch },
      scheduler: {
        lr_scheduler_type: this.args.lrSchedulerType,
        last_epoch: step,
        warmup_steps: this.warmupSteps,
        num_training_steps: this.totalSteps,
        base_learning_rate: this.args.learningRate,
        next_learning_rate: this.learningRate(step + 1),
      },
      optimizer: { name: this.args.optim, step: this.optimizer.state.step },
      rng_state: {
        seed: this.args.seed,
        shuffle: this.args.shuffle,
        generator: 'mulberry32',
        streams: 'derived from (seed, stream, index): shuffle per epoch, dropout per micro-batch',
        next_micro_batch: this.state.microBatch,
      },
      peft_type: this.peftModel.peftType,
      base_fingerprint: await this.baseFingerprint(),
      trainable_keys: this.trainable.map((entry) => entry.key),
      training_arguments: trainingArgumentsToJson(this.args),
      seconds,
      log_history: this.state.log,
      eval_history: this.state.evaluations,
    };
    const folder = await writeCheckpoint(storage, outputDir, step, {
      adapterFiles: { 'adapter_config.json': adapterFiles['adapter_config.json'], 'adapter_model.safetensors': adapterFiles['adapter_model.safetensors'] },
      trainableState,
      optimizerState,
      trainerState,
    });
    await pruneCheckpoints(storage, outputDir, this.args.saveTotalLimit);
    await this.options.callbacks?.onSave?.({ step, folder: checkpointFolder(outputDir, step) });
    return folder;
  }

  /** Checks a checkpoint against this run (config, base, keys, shapes) without changing anything. */
  async checkCheckpoint(checkpoint: LoadedCheckpoint): Promise<void> {
    const where = `checkpoint ${checkpoint.folder}`;
    const saved = checkpoint.adapterConfig;
    const current = this.adapterConfigJson();
    if (saved.peft_type !== current.peft_type) {
      throw new CheckpointError(`${where} holds a ${String(saved.peft_type)} adapter, this run trains ${String(current.peft_type)}`, { key: 'peft_type' });
    }
    for (const key of new Set([...Object.keys(saved), ...Object.keys(current)])) {
      if (IGNORED_CONFIG_FIELDS.has(key)) continue;
      const normalize = (value: unknown) => JSON.stringify(Array.isArray(value) ? [...value].sort() : (value ?? null));
      if (normalize(saved[key]) !== normalize(current[key])) {
        throw new CheckpointError(`${where} was trained with ${key}=${normalize(saved[key])}, this run's adapter has ${key}=${normalize(current[key])}`, { key });
      }
    }
    const fingerprint = await this.baseFingerprint();
    if (checkpoint.trainerState.base_fingerprint !== fingerprint) {
      throw new CheckpointError(
        `${where} was trained on another base model (base fingerprint ${String(checkpoint.trainerState.base_fingerprint)}, this base's is ${fingerprint})`,
        { key: 'base_fingerprint' },
      );
    }
    const makeError = (message: string, key: string) => new CheckpointError(message, { key });
    checkTrainableState(this.trainable, checkpoint.trainableState, `${where}/trainable_state.safetensors`, makeError);
    const savedOptimizer = (checkpoint.trainerState.optimizer as { name?: unknown } | undefined)?.name;
    if (savedOptimizer !== this.args.optim)
      throw new CheckpointError(`${where} was trained with optim=${String(savedOptimizer)}, this run uses ${this.args.optim}`, { key: 'optim' });
    if (!checkpoint.optimizerState.step) throw new CheckpointError(`${where}/optimizer.safetensors has no "step"`, { key: 'step' });
    if (this.optimizer.hasMoments) {
      for (const entry of this.trainable) {
        for (const name of ['exp_avg', 'exp_avg_sq']) {
          const key = `${name}/${entry.key}`;
          const value = checkpoint.optimizerState[key];
          // A tensor that never had a gradient has no moments yet (torch keeps no state for it).
          if (value && value.shape.join() !== entry.param.torchShape.join())
            throw new CheckpointError(`${where}/optimizer.safetensors: "${key}" has shape [${value.shape.join(', ')}], expected [${entry.param.torchShape.join(', ')}]`, { key });
        }
      }
    }
    const position = checkpoint.trainerState.data_position as { micro_batch?: unknown; rows?: unknown; batch_size?: unknown } | undefined;
    if (typeof position?.micro_batch !== 'number' || typeof checkpoint.trainerState.global_step !== 'number')
      throw new CheckpointError(`${where}: trainer_state.json lacks global_step or data_position`, { key: 'data_position' });
    if (position.rows !== this.order.rows || position.batch_size !== this.order.batchSize) {
      throw new CheckpointError(
        `${where} was trained on ${String(position.rows)} rows in batches of ${String(position.batch_size)}; this run has ${this.order.rows} rows in batches of ${this.order.batchSize}`,
        { key: 'data_position' },
      );
    }
  }

  /** Loads a checkpoint (a folder, or `latest` under the output folder) after checking it fits. */
  async resume(location: string): Promise<string> {
    const storage = this.options.storage;
    if (!storage) throw new TrainingArgumentsError('resume_from_checkpoint needs a checkpoint storage', { field: 'resume_from_checkpoint' });
    const folder = await resolveCheckpoint(storage, location, this.options.outputDir);
    const checkpoint = await readCheckpoint(storage, folder);
    await this.checkCheckpoint(checkpoint);
    loadTrainableState(this.peftModel, checkpoint.trainableState, { parameters: this.trainable, source: folder });
    const moments = new Map<string, { expAvg: Float32Array; expAvgSq: Float32Array }>();
    if (this.optimizer.hasMoments) {
      for (const entry of this.trainable) {
        const expAvg = checkpoint.optimizerState[`exp_avg/${entry.key}`];
        const expAvgSq = checkpoint.optimizerState[`exp_avg_sq/${entry.key}`];
        if (!expAvg || !expAvgSq) continue;
        const toLayout = async (value: LoadedTensorData) => {
          const converted = tf.tidy(() => entry.param.fromTorch(tf.tensor(value.values as Float32Array, [...value.shape], 'float32')));
          const values = Float32Array.from((await converted.data()) as Float32Array);
          converted.dispose();
          return values;
        };
        moments.set(entry.key, { expAvg: await toLayout(expAvg), expAvgSq: await toLayout(expAvgSq) });
      }
    }
    this.optimizer.state = { step: checkpoint.optimizerState.step!.values[0]!, moments };
    const trainerState = checkpoint.trainerState as {
      global_step: number;
      data_position: { micro_batch: number };
      seconds?: number;
      log_history?: StepLogEntry[];
      eval_history?: EvaluationLogEntry[];
    };
    this.state = {
      globalStep: trainerState.global_step,
      microBatch: trainerState.data_position.micro_batch,
      secondsBefore: trainerState.seconds ?? trainerState.log_history?.at(-1)?.seconds ?? 0,
      log: [...(trainerState.log_history ?? [])],
      evaluations: [...(trainerState.eval_history ?? [])],
    };
    return folder;
  }

  /** Steps of the complete checkpoints in the output folder. */
  async listCheckpoints(): Promise<number[]> {
    if (!this.options.storage || this.options.outputDir === undefined) return [];
    return listCheckpoints(this.options.storage, this.options.outputDir);
  }
}
