import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { generationPlan, getModelInfo, InvalidConfigError, withForwardContext, type GenerationPlan, type PeftModel } from '@peftjs/core';
import { getGenerationDefaults } from '../auto/load-pretrained';
import { generationDefaultsFrom } from '../config/load-config';
import { isEncoderDecoder } from '../architectures/inputs';
import { kvCacheModel, type KvCacheModel } from './kv-cache-model';
import { seq2seqCacheModel } from './seq2seq-cache-model';
import { createRandom, sampleToken } from './sampling';

export interface GenerateOptions {
  /** New tokens to generate at most. Default: generation_config's `max_new_tokens`, else 20. */
  maxNewTokens?: number;
  /**
   * `[batch, seq]`, 1 = real token, 0 = padding (left-pad a batch of prompts of different
   * lengths). Default: all ones. Position ids follow transformers' generate: `cumsum(mask) - 1`.
   * For an encoder-decoder, the encoder's padding mask (pad either side).
   */
  attentionMask?: tf.Tensor | number[][];
  /** Encoder-decoders: the decoder's first id. Default: the config's `decoder_start_token_id`, else its pad id, else 0. */
  decoderStartTokenId?: number;
  /** Sample instead of greedy decoding. Default: generation_config's `do_sample`, else false. */
  doSample?: boolean;
  /** Sampling temperature (> 0). Default 1. */
  temperature?: number;
  /** Sampling keeps the k most likely tokens; 0 disables. Default 50, as transformers. */
  topK?: number;
  /** Nucleus sampling: keep the most likely tokens up to probability p. Default 1 (off). */
  topP?: number;
  /** Seed for sampling; the same seed gives the same tokens. Default: Math.random. */
  seed?: number;
  /** A row that emits one of these stops; default from the model's generation config. `null`: none. */
  eosTokenId?: number | readonly number[] | null;
  /** Fills a finished row's remaining positions. Default: the model's pad token, else the first EOS, else 0. */
  padTokenId?: number;
  /** A row also stops when its new tokens end with one of these id sequences. */
  stopSequences?: readonly (readonly number[])[];
  /** Reuse past keys/values (default true). false recomputes the whole sequence at every step. */
  useCache?: boolean;
  /** One adapter name per row for a mixed-adapter batch (`"__base__"`: no adapter); see PeftModel.predict. */
  adapterNames?: readonly string[];
  /** One task id per row, for methods with per-task weights (Poly, multitask prompt tuning); see PeftModel.predict. */
  taskIds?: readonly number[];
  /** Called after each step with the ids chosen for every row (pad for finished rows). */
  onStep?: (tokens: readonly number[], step: number) => void;
}

function toRows(value: tf.Tensor | number[][] | readonly (readonly number[])[], what: string): Promise<number[][]> | number[][] {
  if (Array.isArray(value)) return value.map((row) => [...row]);
  const tensor = value as tf.Tensor;
  if (tensor.rank !== 2) throw new InvalidConfigError(`${what} must be [batch, seq], got shape [${tensor.shape.join(', ')}]`, { field: what });
  return tensor.array() as Promise<number[][]>;
}

/** One forward step: the next-token scores `[batch, vocab]` for the sequences so far. */
type StepFunction = (sequences: number[][], mask: number[][], step: number) => tf.Tensor2D;

function isPeftModel(model: LayersModel | PeftModel): model is PeftModel {
  return 'baseModel' in model && 'peftConfig' in model;
}

/**
 * Position ids of the `newCount` tokens fed at a step. Without a plan, transformers' generate:
 * `cumsum(mask) - 1`, and 1 where the mask is 0. With an adapter's plan, PEFT's: the virtual tokens
 * count and positions are the past length plus `arange(new)` (a left-padded row counts its pads).
 */
function stepPositions(attentionRows: number[][], length: number, newCount: number, first: boolean, plan: GenerationPlan | undefined): number[][] {
  if (!plan) {
    return attentionRows.map((row) => {
      let count = 0;
      return row.map((value) => (value !== 0 ? count++ : 1)).slice(length - newCount);
    });
  }
  const virtual = plan.numVirtualTokens;
  const start = first ? (plan.kind === 'cachePrefix' ? virtual : 0) : virtual + length - 1;
  const count = first && plan.kind === 'embeddings' ? virtual + newCount : newCount;
  return attentionRows.map(() => Array.from({ length: count }, (_, index) => start + index));
}

/**
 * Autoregressive generation for a model built by @peftjs/models, or any PEFT-rewritten copy of
 * one (pass the PeftModel or its `model`). An adapter whose tuner has generation hooks (prompt
 * learning's virtual tokens, as PEFT's `PeftModelForCausalLM.generate`) is followed: its plan sets
 * the first step's inputs and cache, later steps' inputs, and the position ids.
 *
 * - Causal LMs: returns each row's prompt followed by the new ids, as transformers' `generate()`
 *   does. With the cache (default), the prompt runs once and each later step feeds only the new
 *   token with the past keys/values, so a step's cost does not grow with the length beyond
 *   attention.
 * - Encoder-decoders (T5, mT5): `inputIds` (and `attentionMask`) are the encoder's input; returns
 *   the decoder ids, `decoder_start_token_id` followed by the new ids (the encoder input is not
 *   echoed), as transformers does. With the cache, the encoder and every cross-attention's keys
 *   and values are computed once, and the decoder's self-attention keys/values are cached.
 *
 * Rows that finished early are padded with the pad id.
 */
export async function generate(target: LayersModel | PeftModel, inputIds: tf.Tensor | number[][], options: GenerateOptions = {}): Promise<number[][]> {
  const model: LayersModel = isPeftModel(target) ? target.model : target;
  const info = getModelInfo(model);
  const defaults = getGenerationDefaults(model) ?? (info.config ? generationDefaultsFrom(info.config) : {});
  const prompts = await toRows(inputIds, 'input_ids');
  const batch = prompts.length;
  const promptLength = prompts[0]?.length ?? 0;
  if (batch === 0 || promptLength === 0 || prompts.some((row) => row.length !== promptLength)) {
    throw new InvalidConfigError('input_ids must be a non-empty [batch, seq] array of equal-length rows (left-pad and pass attentionMask)', { field: 'input_ids' });
  }
  const mask = options.attentionMask ? await toRows(options.attentionMask, 'attention_mask') : prompts.map((row) => row.map(() => 1));
  if (mask.length !== batch || mask.some((row) => row.length !== promptLength)) {
    throw new InvalidConfigError(`attentionMask must have the shape of input_ids [${batch}, ${promptLength}]`, { field: 'attention_mask' });
  }
  const maxNewTokens = options.maxNewTokens ?? defaults.maxNewTokens ?? 20;
  const eos = options.eosTokenId === null ? [] : options.eosTokenId !== undefined ? [options.eosTokenId].flat() : (defaults.eosTokenId ?? []);
  const padTokenId = options.padTokenId ?? defaults.padTokenId ?? eos[0] ?? 0;
  const doSample = options.doSample ?? defaults.doSample ?? false;
  const sampling = {
    temperature: options.temperature ?? defaults.temperature ?? 1,
    topK: options.topK ?? defaults.topK ?? 50,
    topP: options.topP ?? defaults.topP ?? 1,
  };
  if (!(sampling.temperature > 0)) throw new InvalidConfigError(`temperature must be > 0, got ${sampling.temperature}`, { field: 'temperature' });
  if (!(sampling.topP > 0 && sampling.topP <= 1)) throw new InvalidConfigError(`topP must be in (0, 1], got ${sampling.topP}`, { field: 'top_p' });
  if (options.adapterNames && options.adapterNames.length !== batch) {
    throw new InvalidConfigError(`adapterNames has ${options.adapterNames.length} entries but the batch has ${batch} rows`, { field: 'adapter_names' });
  }
  if (options.taskIds) {
    if (options.taskIds.length !== batch) throw new InvalidConfigError(`taskIds has ${options.taskIds.length} entries but the batch has ${batch} rows`, { field: 'task_ids' });
    const bad = options.taskIds.find((id) => !Number.isInteger(id) || id < 0);
    if (bad !== undefined) throw new InvalidConfigError(`task id ${bad} is not a non-negative integer`, { field: 'task_ids' });
  }
  const random = createRandom(options.seed ?? Math.floor(Math.random() * 2 ** 32));
  // Per-row options reach the tuner layers through the forward context, on every step.
  const context = { ...(options.adapterNames ? { adapterNames: options.adapterNames } : {}), ...(options.taskIds ? { taskIds: options.taskIds } : {}) };
  const run = (inputs: tf.Tensor[], target: LayersModel): tf.Tensor[] => {
    const call = () => {
      const outputs = target.apply(inputs, { training: false }) as tf.Tensor | tf.Tensor[];
      return Array.isArray(outputs) ? outputs : [outputs];
    };
    return options.adapterNames || options.taskIds ? withForwardContext(context, call) : call();
  };

  const encoderDecoder = isEncoderDecoder(model);
  const held: tf.Tensor[] = [];
  let sequences: number[][];
  let decoderMask: number[][];
  let step: StepFunction;
  let past: tf.Tensor[] | undefined;
  const keepPresents = (presents: tf.Tensor[]) => {
    tf.dispose(past ?? []);
    past = presents.map((tensor) => tf.keep(tensor));
  };
  const lastPosition = (logits: tf.Tensor): tf.Tensor2D => {
    const [rows, seq, vocab] = logits.shape as [number, number, number];
    return tf.reshape(tf.slice(logits, [0, seq - 1, 0], [rows, 1, vocab]), [rows, vocab]);
  };

  if (encoderDecoder) {
    const start = options.decoderStartTokenId ?? defaults.decoderStartTokenId ?? defaults.padTokenId ?? 0;
    sequences = prompts.map(() => [start]);
    decoderMask = prompts.map(() => [1]);
    const encoderIds = tf.tensor2d(prompts, [batch, promptLength], 'int32');
    const encoderMask = tf.tensor2d(mask, [batch, promptLength], 'float32');
    held.push(encoderIds, encoderMask);
    const cached = (options.useCache ?? true) ? seq2seqCacheModel(model) : undefined;
    if (cached) {
      const cross = tf.tidy(() => run([encoderIds, encoderMask], cached.encoder));
      held.push(...cross);
      step = (rows, attention, index) =>
        tf.tidy(() => {
          const length = rows[0]!.length;
          const newCount = index > 0 ? 1 : length;
          const ids = tf.tensor2d(
            rows.map((row) => row.slice(length - newCount)),
            [batch, newCount],
            'int32',
          );
          const pastTensors =
            past ??
            cached.layers.flatMap((layout) => [tf.zeros([batch, layout.numKeyValueHeads, 0, layout.headDim]), tf.zeros([batch, layout.numKeyValueHeads, 0, layout.headDim])]);
          const outputs = run([ids, encoderMask, tf.tensor2d(attention, [batch, length], 'float32'), ...cross, ...pastTensors], cached.decoder);
          keepPresents(outputs.slice(1));
          return lastPosition(outputs[0]!);
        });
    } else {
      step = (rows) =>
        tf.tidy(() => {
          const ids = tf.tensor2d(rows, [batch, rows[0]!.length], 'int32');
          return lastPosition(run([encoderIds, encoderMask, ids], model)[0]!);
        });
    }
  } else {
    sequences = prompts.map((row) => [...row]);
    decoderMask = mask;
    const cached = kvCacheModel(model);
    const useCache = (options.useCache ?? true) && cached !== undefined;
    const plan = generationPlan(model);
    const forward = (rows: number[][], attentionRows: number[][], index: number): tf.Tensor2D =>
      tf.tidy(() => {
        const length = rows[0]!.length;
        const newCount = useCache && index > 0 ? 1 : length;
        const ids = tf.tensor2d(
          rows.map((row) => row.slice(length - newCount)),
          [batch, newCount],
          'int32',
        );
        const attention = tf.tensor2d(attentionRows, [batch, length], 'float32');
        if (!cached) return lastPosition(run(model.inputs.length >= 2 ? [ids, attention] : [ids], model)[0]!);
        const positions = stepPositions(attentionRows, length, newCount, newCount === length, plan);
        const inputs = [ids, attention, ...(cached.hasPositionIds ? [tf.tensor2d(positions, [batch, positions[0]!.length], 'int32')] : [])];
        const pastTensors =
          useCache && past
            ? past
            : cached.layers.flatMap((layout) => [tf.zeros([batch, layout.numKeyValueHeads, 0, layout.headDim]), tf.zeros([batch, layout.numKeyValueHeads, 0, layout.headDim])]);
        const outputs = run([...inputs, ...pastTensors], cached.model);
        if (useCache) keepPresents(outputs.slice(cached.numSourceOutputs));
        return lastPosition(outputs[0]!);
      });
    // Later cached steps feed one token: the adapter's virtual positions are already in the cache.
    step = (rows, attentionRows, index) => (plan && useCache && index > 0 ? plan.laterStep(() => forward(rows, attentionRows, index)) : forward(rows, attentionRows, index));
  }

  const start = sequences[0]!.length;
  const finished = new Array<boolean>(batch).fill(false);
  try {
    for (let index = 0; index < maxNewTokens; index++) {
      const nextScores = step(sequences, decoderMask, index);
      let chosen: number[];
      if (doSample) {
        const values = (await nextScores.data()) as Float32Array;
        const vocab = nextScores.shape[1]!;
        chosen = Array.from({ length: batch }, (_, row) => sampleToken(values.subarray(row * vocab, (row + 1) * vocab), sampling, random));
      } else {
        const argMax = tf.argMax(nextScores, -1);
        chosen = Array.from(await argMax.data());
        argMax.dispose();
      }
      nextScores.dispose();
      const tokens = chosen.map((token, row) => (finished[row] ? padTokenId : token));
      tokens.forEach((token, row) => {
        sequences[row]!.push(token);
        decoderMask[row]!.push(1);
        if (finished[row]) return;
        if (eos.includes(token)) finished[row] = true;
        const generated = sequences[row]!.slice(start);
        if (
          options.stopSequences?.some(
            (stop) => stop.length > 0 && stop.length <= generated.length && stop.every((id, position) => generated[generated.length - stop.length + position] === id),
          )
        ) {
          finished[row] = true;
        }
      });
      options.onStep?.(tokens, index);
      if (finished.every(Boolean)) break;
    }
  } finally {
    tf.dispose(past ?? []);
    tf.dispose(held);
  }
  return sequences;
}

export type { KvCacheModel };
