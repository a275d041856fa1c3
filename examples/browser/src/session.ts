import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { getModelInfo, getPeftModel, PeftError, registerTuner, type PeftModel } from '@peftjs/core';
import { AdapterFolderError, adapterFilesFromPeftModel, peftModelFromAdapterFiles, SafetensorsFormatError, type AdapterFileContents, type AdapterFileSources } from '@peftjs/hub';
import { ia3 } from '@peftjs/ia3';
import { lora } from '@peftjs/lora';
import { assertFits, causalLmTrainingLoss, estimateTrainingMemory, generate, isWasmOutOfMemory, MemoryBudgetError } from '@peftjs/models';
import { prefixTuning, promptTuning, pTuning } from '@peftjs/prompt-tuning';
import { describeStorage, loadCausalLmFromFiles, storedBytes, type LoadedModel, type ModelFiles, type WeightStorage } from './model-files';
import { modelInputs as trainerModelInputs, Trainer, type ComputeLoss } from '@peftjs/trainer';
import { createSeededRandom, shuffled, withSeededMathRandom } from '@peftjs/core';
import { IGNORE_INDEX, padBatch, parseTrainingText, tokenizeRows, type Example } from './training-data';
import { UserError } from './user-error';

export const METHODS = ['lora', 'ia3', 'prompt-tuning'] as const;
export type Method = (typeof METHODS)[number];

export interface TrainSettings {
  method: Method;
  /** Optimizer steps (one batch each, cycling through the shuffled data). */
  steps: number;
  batchSize: number;
  learningRate: number;
  /** Longer examples are cut (text) or truncated (rows). */
  maxLength: number;
  seed: number;
  /** LoRA rank and alpha. */
  r: number;
  loraAlpha: number;
  /** LoRA / IA3 target modules; empty: the model type's defaults (PEFT's). */
  targetModules: string[];
  /** Prompt tuning: the number of virtual tokens, and text to initialise them from (optional). */
  numVirtualTokens: number;
  promptInitText: string;
  /** Recompute each decoder layer in the backward pass (only layer inputs are kept): less memory, ~⅓ more time. */
  gradientCheckpointing: boolean;
}

export const DEFAULT_SETTINGS: TrainSettings = {
  method: 'lora',
  steps: 30,
  batchSize: 8,
  learningRate: 1e-2,
  maxLength: 64,
  seed: 42,
  r: 8,
  loraAlpha: 16,
  targetModules: [],
  numVirtualTokens: 8,
  promptInitText: '',
  gradientCheckpointing: false,
};

export interface ModelSummary {
  name: string;
  modelType: string;
  architecture: string;
  parameters: number;
  layers: number;
  hiddenSize: number | undefined;
  vocabSize: number | undefined;
  hasTokenizer: boolean;
  /** Where the frozen weights live, and the bytes they hold outside the tfjs heap. */
  storage: LoadedModel['storage'];
  storedBytes: number;
  storageLabel: string;
}

export interface AdapterSummary {
  peftType: string;
  /** The adapter's own parameters, and those of the whole adapted model. */
  adapterParameters: number;
  allParameters: number;
  /** adapter_config.json as it would be saved. */
  config: Record<string, unknown>;
  origin: 'trained' | 'loaded';
}

export interface StepReport {
  step: number;
  totalSteps: number;
  epoch: number;
  loss: number;
  learningRate: number;
  tokensPerSecond: number;
  etaSeconds: number;
  /** This step's wall time. */
  stepSeconds: number;
  /** The wasm heap's size (it only grows: the peak so far), when the backend is wasm. */
  heapBytes: number | undefined;
  /** Bytes tfjs tensors hold now. */
  tensorBytes: number;
}

export interface TrainReport {
  steps: number;
  stopped: boolean;
  /** Mean loss over (up to 64 of) the examples before and after training. */
  dataLossBefore: number;
  dataLossAfter: number;
  examples: number;
  seconds: number;
  adapter: AdapterSummary;
}

export interface Generation {
  text: string | undefined;
  /** The new token ids (after the prompt). */
  ids: number[];
  /** The logits of the first new token (the prompt's last position), over the vocabulary. */
  logits: number[];
}

export interface GenerateReport {
  promptIds: number[];
  base: Generation;
  /** Undefined while there is no adapter. */
  adapted: Generation | undefined;
}

let registered = false;
function registerTuners(): void {
  if (registered) return;
  for (const tuner of [lora, ia3, promptTuning, pTuning, prefixTuning]) registerTuner(tuner);
  registered = true;
}

/** The model's inputs in its own order, by their transformers names. */
function modelInputs(model: LayersModel, inputIds: tf.Tensor, attentionMask: tf.Tensor): tf.Tensor[] {
  return model.inputs.map((input) => {
    const name = input.name.replace(/_\d+$/, '');
    if (name === 'input_ids') return inputIds;
    if (name === 'attention_mask') return attentionMask;
    throw new UserError(`the model has an input "${input.name}" this page cannot fill (it fills input_ids and attention_mask)`);
  });
}

/** Sum of token cross-entropies and the count scored (labels left-padded with -100 to the logits' length, for virtual tokens). */
export function lossParts(logits: tf.Tensor, labels: tf.Tensor): { sum: tf.Scalar; count: tf.Scalar } {
  return tf.tidy(() => {
    const [batch, seq, vocab] = logits.shape as [number, number, number];
    const extra = seq - labels.shape[1]!;
    const aligned = extra > 0 ? tf.concat([tf.fill([batch, extra], IGNORE_INDEX, 'int32'), labels], 1) : labels;
    const shiftedLogits = tf.reshape(tf.slice(logits, [0, 0, 0], [batch, seq - 1, vocab]), [-1, vocab]);
    const shiftedLabels = tf.reshape(tf.slice(aligned, [0, 1], [batch, seq - 1]), [-1]);
    const valid = tf.notEqual(shiftedLabels, tf.scalar(IGNORE_INDEX, 'int32'));
    const safe = tf.where(valid, shiftedLabels, tf.zerosLike(shiftedLabels));
    const picked = tf.sum(tf.mul(tf.logSoftmax(shiftedLogits, -1), tf.cast(tf.oneHot(tf.cast(safe, 'int32'), vocab), 'float32')), -1);
    const weights = tf.cast(valid, 'float32');
    return { sum: tf.neg(tf.sum(tf.mul(picked, weights))) as tf.Scalar, count: tf.sum(weights) as tf.Scalar };
  });
}

/** The wasm module's memory (the heap never shrinks, so this is its peak), or undefined on other backends. */
export function wasmHeapBytes(): number | undefined {
  const module = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm;
  return tf.getBackend() === 'wasm' ? module?.HEAPU8?.buffer.byteLength : undefined;
}

/**
 * The trainer's causal-LM loss without the vocabulary-sized logits: a frozen head is scored in
 * chunks (the full logits and their gradient never exist), and with `gradientCheckpointing`
 * each decoder layer keeps only its input for the backward pass.
 */
function boundedMemoryLoss(gradientCheckpointing: boolean): ComputeLoss {
  return (model, batch, { training }) =>
    tf.tidy(() => {
      const inputIds = tf.tensor2d(batch.inputIds, undefined, 'int32');
      const attentionMask = tf.tensor2d(batch.attentionMask, undefined, 'float32');
      const labels = tf.tensor2d(batch.labels, undefined, 'int32');
      return causalLmTrainingLoss(model, trainerModelInputs(model, { inputIds, attentionMask }), labels, {
        training,
        gradientCheckpointing: training && gradientCheckpointing,
      });
    });
}

/** Models this large are probed on one batch before and after training, not 64 examples. */
const LARGE_MODEL_PARAMETERS = 20_000_000;

function lastLogits(output: tf.Tensor | tf.Tensor[]): tf.Tensor1D {
  const logits = Array.isArray(output) ? output[0]! : output;
  const [, seq, vocab] = logits.shape as [number, number, number];
  return tf.reshape(tf.slice(logits, [0, seq - 1, 0], [1, 1, vocab]), [vocab]) as tf.Tensor1D;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Everything the page does with models, free of the DOM so it runs in a Web Worker (and in
 * Node, for tests): load a base model from files, train an adapter, generate with and without
 * it, give its files, load an adapter from files.
 */
export class Session {
  private loaded: LoadedModel | undefined;
  private peft: PeftModel | undefined;
  private origin: AdapterSummary['origin'] = 'trained';

  constructor() {
    registerTuners();
  }

  get hasModel(): boolean {
    return this.loaded !== undefined;
  }

  get hasAdapter(): boolean {
    return this.peft !== undefined;
  }

  /** Loads a base model; the previous one (and its adapter) is kept if this fails. */
  async loadModel(files: ModelFiles, name: string, options: { storage?: WeightStorage } = {}): Promise<ModelSummary> {
    let loaded: LoadedModel;
    try {
      loaded = await loadCausalLmFromFiles(files, name, options);
    } catch (error) {
      if (error instanceof UserError) throw error;
      throw new UserError(`Could not load the model: ${message(error)}`);
    }
    this.disposeAll();
    this.loaded = loaded;
    return this.modelSummary();
  }

  modelSummary(): ModelSummary {
    const { model, config, tokenizer, name } = this.requireModel();
    const number = (key: string) => (typeof config[key] === 'number' ? (config[key] as number) : undefined);
    return {
      name,
      modelType: String(config.model_type),
      architecture: Array.isArray(config.architectures) ? String(config.architectures[0]) : model.name,
      parameters: model.countParams(),
      layers: number('num_hidden_layers') ?? number('n_layer') ?? 0,
      hiddenSize: number('hidden_size') ?? number('n_embd'),
      vocabSize: number('vocab_size'),
      hasTokenizer: tokenizer !== undefined,
      storage: this.loaded!.storage,
      storedBytes: storedBytes(model),
      storageLabel: describeStorage(this.loaded!.storage, storedBytes(model)),
    };
  }

  adapterSummary(): AdapterSummary | undefined {
    if (!this.peft) return undefined;
    const name = this.peft.activeAdapter ?? 'default';
    const tuner = this.peft.tuner;
    const [, all] = this.peft.getNbTrainableParameters();
    return {
      peftType: this.peft.peftType,
      adapterParameters: all - this.loaded!.model.countParams(),
      allParameters: all,
      config: { ...tuner.serializeConfig(this.peft.peftConfig[name]), inference_mode: true },
      origin: this.origin,
    };
  }

  private requireModel(): LoadedModel {
    if (!this.loaded) throw new UserError('Load a base model first.');
    return this.loaded;
  }

  /** Replaces the adapter by another one, already built on the same base. */
  private adopt(peftModel: PeftModel, origin: AdapterSummary['origin']): void {
    const previous = this.peft;
    this.peft = peftModel;
    this.origin = origin;
    if (previous) {
      previous.unload(); // frees its adapter weights, and marks the base weights trainable ...
      for (const weight of this.loaded!.model.weights) weight.trainable = false; // ... which stay frozen for the new one
      const active = peftModel.activeAdapter;
      if (active) peftModel.setAdapter(active); // PEFT's trainability for the adapter kept
    }
  }

  /** Drops an adapter built but not adopted; the current one (if any) stays as it was. */
  private discard(peftModel: PeftModel): void {
    peftModel.unload(); // frees its weights, and marks the base weights trainable ...
    for (const weight of this.loaded!.model.weights) weight.trainable = false; // ... which stay frozen
    const active = this.peft?.activeAdapter;
    if (this.peft && active) this.peft.setAdapter(active); // the current adapter's trainability kept
  }

  private disposeAll(): void {
    if (this.peft) {
      this.peft.unload();
      this.peft = undefined;
    }
    if (this.loaded) {
      this.loaded.model.dispose();
      this.loaded = undefined;
    }
  }

  /** Token ids of a prompt: text through the tokenizer, or (models without one) ids like "1 2 3". */
  encodePrompt(prompt: string): number[] {
    const { tokenizer, config } = this.requireModel();
    if (tokenizer) {
      const ids = tokenizer.encode(prompt).inputIds;
      if (ids.length === 0) throw new UserError('The prompt is empty: type some text to continue.');
      return ids;
    }
    const parts = prompt
      .trim()
      .split(/[\s,]+/)
      .filter((part) => part !== '');
    const vocab = typeof config.vocab_size === 'number' ? config.vocab_size : Infinity;
    if (parts.length === 0 || !parts.every((part) => /^\d+$/.test(part) && Number(part) < vocab)) {
      throw new UserError(`This model has no tokenizer.json: type the prompt as token ids below ${vocab}, like "1 5 7".`);
    }
    return parts.map(Number);
  }

  private createConfig(settings: TrainSettings): Record<string, unknown> {
    const { tokenizer, name } = this.requireModel();
    const common = { task_type: 'CAUSAL_LM' };
    const targets = settings.targetModules.length > 0 ? { target_modules: settings.targetModules } : {};
    switch (settings.method) {
      case 'lora':
        return { ...common, peft_type: 'LORA', r: settings.r, lora_alpha: settings.loraAlpha, lora_dropout: 0, ...targets };
      case 'ia3':
        return { ...common, peft_type: 'IA3', ...targets };
      case 'prompt-tuning': {
        const text = settings.promptInitText.trim();
        if (text !== '' && tokenizer) {
          return {
            ...common,
            peft_type: 'PROMPT_TUNING',
            num_virtual_tokens: settings.numVirtualTokens,
            prompt_tuning_init: 'TEXT',
            prompt_tuning_init_text: text,
            tokenizer_name_or_path: name,
            tokenizer,
          };
        }
        return { ...common, peft_type: 'PROMPT_TUNING', num_virtual_tokens: settings.numVirtualTokens };
      }
      default:
        throw new UserError(`unknown method "${String(settings.method)}"; one of ${METHODS.join(', ')}`);
    }
  }

  private checkSettings(settings: TrainSettings): void {
    const positiveInteger = (value: number, what: string) => {
      if (!Number.isInteger(value) || value < 1) throw new UserError(`${what} must be a whole number ≥ 1, got ${value}`);
    };
    positiveInteger(settings.steps, 'Steps');
    positiveInteger(settings.batchSize, 'Batch size');
    positiveInteger(settings.maxLength, 'Max length');
    if (!(settings.learningRate > 0 && settings.learningRate < 10)) throw new UserError(`The learning rate must be a number between 0 and 10, got ${settings.learningRate}`);
    if (settings.method === 'lora') {
      positiveInteger(settings.r, 'LoRA rank r');
      if (!(settings.loraAlpha > 0)) throw new UserError(`LoRA alpha must be > 0, got ${settings.loraAlpha}`);
    }
    if (settings.method === 'prompt-tuning') positiveInteger(settings.numVirtualTokens, 'Virtual tokens');
  }

  /** Tokenizes the data; throws a UserError that says what is wrong with it. */
  examples(dataText: string, maxLength: number): Example[] {
    const { tokenizer, config } = this.requireModel();
    const { rows } = parseTrainingText(dataText);
    const dataTokenizer = tokenizer && {
      encode: (text: string, options?: { addSpecialTokens?: boolean }) => tokenizer.encode(text, options).inputIds,
      eosTokenId: tokenizer.eosTokenId,
    };
    return tokenizeRows(rows, { tokenizer: dataTokenizer, maxLength, vocabSize: typeof config.vocab_size === 'number' ? config.vocab_size : undefined });
  }

  /** Refuses a run whose estimate cannot fit (the wasm heap's 4 GiB), naming what helps. */
  private checkTrainingFits(model: LayersModel, examples: readonly Example[], settings: TrainSettings): void {
    const sequenceLength = Math.min(settings.maxLength, Math.max(...examples.map((example) => example.inputIds.length)));
    const estimate = estimateTrainingMemory(model, { batchSize: settings.batchSize, sequenceLength, gradientCheckpointing: settings.gradientCheckpointing });
    try {
      assertFits(estimate, `train at batch ${settings.batchSize} × ${sequenceLength}`);
    } catch (error) {
      if (!MemoryBudgetError.isInstance(error)) throw error;
      // The page's names for the options the message suggests.
      throw new UserError(
        error.message
          .replace('--quantization nf4', 'weight storage nf4')
          .replace('--gradient-checkpointing', 'gradient checkpointing')
          .replace(/--batch-size (\d+)/, 'batch size $1')
          .replace('--max-length', 'max length'),
      );
    }
  }

  private padTokenId(): number {
    const { tokenizer, generation } = this.requireModel();
    return tokenizer?.padTokenId ?? generation.padTokenId ?? tokenizer?.eosTokenId ?? generation.eosTokenId?.[0] ?? 0;
  }

  private async meanLoss(model: LayersModel, examples: readonly Example[], batchSize: number, bounded = false): Promise<number> {
    if (bounded) {
      // One batch through the chunked loss: no vocabulary-sized logits.
      const padded = padBatch(examples.slice(0, batchSize), this.padTokenId());
      const loss = boundedMemoryLoss(false)(model, padded, { training: false });
      const [value] = await loss.data();
      loss.dispose();
      return value!;
    }
    let total = 0;
    let count = 0;
    for (let start = 0; start < examples.length; start += batchSize) {
      const padded = padBatch(examples.slice(start, start + batchSize), this.padTokenId());
      const parts = tf.tidy(() => {
        const inputIds = tf.tensor2d(padded.inputIds, undefined, 'int32');
        const mask = tf.tensor2d(padded.attentionMask, undefined, 'float32');
        const output = model.apply(modelInputs(model, inputIds, mask), { training: false }) as tf.Tensor | tf.Tensor[];
        const { sum, count: scored } = lossParts(Array.isArray(output) ? output[0]! : output, tf.tensor2d(padded.labels, undefined, 'int32'));
        return tf.stack([sum, scored]);
      });
      const [sum, scored] = await parts.data();
      parts.dispose();
      total += sum!;
      count += scored!;
    }
    return count > 0 ? total / count : Number.NaN;
  }

  /**
   * Trains a new adapter on the data with @peftjs/trainer (AdamW, linearly decaying learning
   * rate, gradients clipped to norm 1, seeded shuffling, dropout and init). `shouldStop` is
   * polled between steps: a stopped run keeps the adapter as trained so far. The previous adapter is replaced only once the new one
   * is built, so bad settings or data leave it in place.
   */
  async train(
    dataText: string,
    settings: TrainSettings,
    options: { onStep?: (report: StepReport) => void; shouldStop?: () => boolean; yieldEveryStep?: () => Promise<void> } = {},
  ): Promise<TrainReport> {
    const { model: base } = this.requireModel();
    this.checkSettings(settings);
    const examples = this.examples(dataText, settings.maxLength);
    const config = this.createConfig(settings);
    let peftModel: PeftModel;
    try {
      peftModel = withSeededMathRandom(settings.seed, () => getPeftModel(base, config));
    } catch (error) {
      if (PeftError.isInstance(error)) throw new UserError(`The ${settings.method} settings do not fit this model: ${message(error)}`);
      throw error;
    }
    try {
      this.checkTrainingFits(peftModel.model, examples, settings);
    } catch (error) {
      this.discard(peftModel);
      throw error;
    }
    this.adopt(peftModel, 'trained');
    const model = peftModel.model;
    const large = base.countParams() >= LARGE_MODEL_PARAMETERS;
    const probe = shuffled(examples, createSeededRandom(settings.seed)).slice(0, large ? settings.batchSize : 64);
    const dataLossBefore = await this.meanLoss(model, probe, settings.batchSize, large);

    // The one training engine (HF Trainer's recipe: AdamW, linear decay, clipping at norm 1, a
    // seeded reshuffle every epoch, dropout from seeded streams).
    const started = performance.now();
    let lastStep = started;
    let tokens = 0;
    let step = 0;
    let result;
    try {
      const trainer = new Trainer({
        peftModel,
        args: {
          learningRate: settings.learningRate,
          maxSteps: settings.steps,
          perDeviceTrainBatchSize: settings.batchSize,
          lrSchedulerType: 'linear',
          maxGradNorm: 1,
          seed: settings.seed,
          shuffle: true,
        },
        trainDataset: examples,
        padTokenId: this.padTokenId(),
        computeLoss: boundedMemoryLoss(settings.gradientCheckpointing),
        callbacks: {
          shouldStop: options.shouldStop,
          onStep: async (entry) => {
            if (!Number.isFinite(entry.loss)) throw new UserError(`The loss became ${entry.loss} at step ${entry.step}: lower the learning rate and train again.`);
            step = entry.step;
            tokens += entry.tokens;
            const now = performance.now();
            const stepSeconds = (now - lastStep) / 1000;
            lastStep = now;
            const seconds = (now - started) / 1000;
            options.onStep?.({
              step,
              totalSteps: settings.steps,
              epoch: entry.epoch,
              loss: entry.loss,
              learningRate: entry.learning_rate,
              tokensPerSecond: tokens / Math.max(seconds, 1e-9),
              etaSeconds: (seconds / step) * (settings.steps - step),
              stepSeconds,
              heapBytes: wasmHeapBytes(),
              tensorBytes: tf.memory().numBytes,
            });
            await options.yieldEveryStep?.();
          },
        },
      });
      result = await trainer.train();
    } catch (error) {
      if (isWasmOutOfMemory(error))
        throw new UserError(
          `The wasm heap ran out at step ${step + 1} (${message(error)}): it holds at most 4 GiB. What helps: gradient checkpointing, a smaller batch or max length, weight storage bfloat16 or nf4.`,
        );
      if (error instanceof Error && /^the loss became/.test(error.message))
        throw new UserError(`The loss became non-finite at step ${step + 1}: lower the learning rate and train again.`);
      throw error;
    }
    const stopped = result.stopped;
    const seconds = (performance.now() - started) / 1000;
    const dataLossAfter = await this.meanLoss(model, probe, settings.batchSize, large);
    return { steps: result.globalStep, stopped, dataLossBefore, dataLossAfter, examples: examples.length, seconds, adapter: this.adapterSummary()! };
  }

  private async generateOne(ids: number[], maxNewTokens: number, adapted: boolean): Promise<Generation> {
    const { model: base, tokenizer, generation } = this.requireModel();
    const model = adapted ? this.peft!.model : base;
    const eosTokenId = generation.eosTokenId ?? tokenizer?.eosTokenId ?? null;
    const options = { maxNewTokens, eosTokenId, doSample: false };
    const [sequence] = await generate(model, [ids], options);
    const newIds = sequence!.slice(ids.length);
    const logitsTensor = tf.tidy(() => {
      const inputIds = tf.tensor2d([ids], undefined, 'int32');
      return lastLogits(model.apply(modelInputs(model, inputIds, tf.cast(tf.onesLike(inputIds), 'float32')), { training: false }) as tf.Tensor | tf.Tensor[]);
    });
    const logits = Array.from(await logitsTensor.data());
    logitsTensor.dispose();
    return { text: tokenizer?.decode(newIds, { skipSpecialTokens: true }), ids: newIds, logits };
  }

  /** Greedy generation from the base model and, when there is one, with the adapter. */
  async generate(prompt: string, maxNewTokens: number): Promise<GenerateReport> {
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1 || maxNewTokens > 512) throw new UserError(`New tokens must be a whole number from 1 to 512, got ${maxNewTokens}`);
    const promptIds = this.encodePrompt(prompt);
    const base = await this.generateOne(promptIds, maxNewTokens, false);
    const adapted = this.peft ? await this.generateOne(promptIds, maxNewTokens, true) : undefined;
    return { promptIds, base, adapted };
  }

  /** The adapter's adapter_config.json and adapter_model.safetensors, as savePretrained writes them. */
  async adapterFiles(): Promise<AdapterFileContents> {
    if (!this.peft) throw new UserError('There is no adapter yet: train one (or load one) first.');
    return adapterFilesFromPeftModel(this.peft, { adapterName: this.peft.activeAdapter ?? 'default' });
  }

  /**
   * Loads an adapter from its two files onto the base model. The files are checked, and the
   * adapter built and filled, before the current adapter is replaced: on any problem the page
   * keeps the adapter it had.
   */
  async loadAdapter(files: Partial<AdapterFileSources>, label: string): Promise<AdapterSummary> {
    const { model: base, name } = this.requireModel();
    const missing = (['adapter_config.json', 'adapter_model.safetensors'] as const).filter((file) => !files[file]);
    if (missing.length > 0) throw new UserError(`An adapter needs adapter_config.json and adapter_model.safetensors; ${label} lacks ${missing.join(' and ')}.`);
    let peftModel: PeftModel;
    try {
      peftModel = await peftModelFromAdapterFiles(base, files as AdapterFileSources, { label });
    } catch (error) {
      const text = message(error);
      if (AdapterFolderError.isInstance(error) || SafetensorsFormatError.isInstance(error)) throw new UserError(`${label} is not a valid adapter: ${text}`);
      let trainedOn = '';
      try {
        const config = JSON.parse(
          typeof files['adapter_config.json'] === 'string' ? files['adapter_config.json'] : await new Blob([files['adapter_config.json'] as BlobPart]).text(),
        ) as Record<string, unknown>;
        if (typeof config.base_model_name_or_path === 'string' && config.base_model_name_or_path !== '') trainedOn = ` It was made for "${config.base_model_name_or_path}".`;
      } catch {
        // the config was read fine above, or the error already says so
      }
      throw new UserError(`This adapter does not fit the loaded model (${name}): ${text.replace(/\.$/, '')}.${trainedOn}`);
    }
    this.adopt(peftModel, 'loaded');
    return this.adapterSummary()!;
  }

  /** tf.memory().numTensors, for leak checks. */
  static tensorCount(): number {
    return tf.memory().numTensors;
  }

  /** The model's name or path as adapters record it. */
  get baseName(): string | undefined {
    return this.loaded ? getModelInfo(this.loaded.model).nameOrPath : undefined;
  }
}
