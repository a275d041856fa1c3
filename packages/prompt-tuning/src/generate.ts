import * as tf from '@tensorflow/tfjs-core';
import { getModelInfo, InvalidConfigError, withForwardContext, type PeftModel } from '@peftjs/core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { activePrompt } from './causal-lm';
import { withoutPromptInjection } from './prompt-injection';

export interface PromptGenerateOptions {
  /** New tokens to generate at most. Default: the model's generation config, else 20. */
  maxNewTokens?: number;
  /** `[batch, seq]`, 1 = real token, 0 = padding. Default all ones. The virtual tokens' ones are prepended at every step. */
  attentionMask?: tf.Tensor | number[][];
  /** Sample instead of greedy decoding. Default: the generation config's `do_sample`, else false. */
  doSample?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  /** Seed for sampling. */
  seed?: number;
  /** A row that emits one of these stops. Default from the generation config; `null`: none. */
  eosTokenId?: number | readonly number[] | null;
  /** Fills a finished row's remaining positions. Default: the pad token, else the first EOS, else 0. */
  padTokenId?: number;
  /** Reuse past keys/values (default true). */
  useCache?: boolean;
  /** Called after each step with the ids chosen for every row. */
  onStep?: (tokens: readonly number[], step: number) => void;
  /** One task id per row, for multitask prompt tuning (PEFT's `task_ids`). */
  taskIds?: readonly number[];
}

type ModelsModule = typeof import('@peftjs/models');

async function loadModels(): Promise<ModelsModule> {
  try {
    return await import('@peftjs/models');
  } catch (error) {
    throw new InvalidConfigError(`generate() from @peftjs/prompt-tuning needs @peftjs/models (its KV-cache graphs and sampling); install it`, { cause: error });
  }
}

async function rows(value: tf.Tensor | number[][], what: string): Promise<number[][]> {
  if (Array.isArray(value)) return value.map((row) => [...row]);
  if (value.rank !== 2) throw new InvalidConfigError(`${what} must be [batch, seq], got shape [${value.shape.join(', ')}]`, { field: what });
  return (await value.array()) as number[][];
}

/**
 * PEFT's `PeftModelForCausalLM.generate` for prompt learning. Returns each row's prompt followed
 * by the new ids (no virtual-token positions, as transformers tracks `input_ids`). For an
 * encoder-decoder (`PeftModelForSeq2SeqLM`), returns the decoder ids, as @peftjs/models' generate.
 *
 * As in PEFT: the attention mask gets `num_virtual_tokens` ones prepended at every step; the
 * virtual tokens (prompt tuning, P-tuning) or key/value prefixes (prefix tuning) go in on the
 * first step only, and later steps feed one token with the KV cache, which already holds them;
 * position ids are the past length plus `arange(new)` (PEFT drops transformers' mask-based
 * positions), so a left-padded row's positions count its pads.
 */
export async function generate(peftModel: PeftModel, inputIds: tf.Tensor | number[][], options: PromptGenerateOptions = {}): Promise<number[][]> {
  const models = await loadModels();
  const model: LayersModel = peftModel.model;
  // PEFT's PeftModelForSeq2SeqLM.generate: the virtual tokens go into the encoder input only and the decoder is the
  // base's, so @peftjs/models' encoder-decoder generate (encoder once, decoder ids returned) is the whole story.
  if (models.isEncoderDecoder(model)) return models.generate(model, inputIds, options);
  const info = getModelInfo(peftModel.baseModel);
  const defaults = models.getGenerationDefaults(peftModel.baseModel) ?? (info.config ? models.generationDefaultsFrom(info.config) : {});
  const prompts = await rows(inputIds, 'input_ids');
  const batch = prompts.length;
  const promptLength = prompts[0]?.length ?? 0;
  if (batch === 0 || promptLength === 0 || prompts.some((row) => row.length !== promptLength)) {
    throw new InvalidConfigError('input_ids must be a non-empty [batch, seq] array of equal-length rows (left-pad and pass attentionMask)', { field: 'input_ids' });
  }
  const mask = options.attentionMask ? await rows(options.attentionMask, 'attention_mask') : prompts.map((row) => row.map(() => 1));
  if (mask.length !== batch || mask.some((row) => row.length !== promptLength)) {
    throw new InvalidConfigError(`attentionMask must have the shape of input_ids [${batch}, ${promptLength}]`, { field: 'attention_mask' });
  }
  const maxNewTokens = options.maxNewTokens ?? defaults.maxNewTokens ?? 20;
  const eos = options.eosTokenId === null ? [] : options.eosTokenId !== undefined ? [options.eosTokenId].flat() : (defaults.eosTokenId ?? []);
  const padTokenId = options.padTokenId ?? defaults.padTokenId ?? eos[0] ?? 0;
  const doSample = options.doSample ?? defaults.doSample ?? false;
  const sampling = { temperature: options.temperature ?? defaults.temperature ?? 1, topK: options.topK ?? defaults.topK ?? 50, topP: options.topP ?? defaults.topP ?? 1 };
  if (!(sampling.temperature > 0)) throw new InvalidConfigError(`temperature must be > 0, got ${sampling.temperature}`, { field: 'temperature' });
  const random = models.createRandom(options.seed ?? Math.floor(Math.random() * 2 ** 32));

  const { kind, numVirtualTokens } = activePrompt(peftModel);
  const cached = models.kvCacheModel(model);
  const useCache = (options.useCache ?? true) && cached !== undefined;
  const sequences = prompts.map((row) => [...row]);
  const finished = new Array<boolean>(batch).fill(false);
  let past: tf.Tensor[] | undefined;

  /** Position ids of the tokens fed at this step. */
  const positions = (length: number, fed: number, first: boolean): number[][] => {
    if (kind === 'none') {
      // No active adapter: the base model's generate (transformers' cumsum(mask) - 1).
      return mask.map((row) => {
        let count = 0;
        return row.map((value) => (value !== 0 ? count++ : 1)).slice(length - fed);
      });
    }
    const start = first ? (kind === 'prefix' ? numVirtualTokens : 0) : numVirtualTokens + length - 1;
    const count = first && kind === 'input' ? numVirtualTokens + fed : fed;
    return prompts.map(() => Array.from({ length: count }, (_, index) => start + index));
  };

  try {
    for (let step = 0; step < maxNewTokens; step++) {
      const first = !useCache || step === 0;
      const forward = () =>
        tf.tidy(() => {
          const length = sequences[0]!.length;
          const fed = first ? length : 1;
          const ids = tf.tensor2d(sequences.map((row) => row.slice(length - fed)), [batch, fed], 'int32');
          const attention = tf.tensor2d(mask, [batch, length], 'float32');
          let logits: tf.Tensor;
          if (useCache) {
            const inputs = [ids, attention];
            if (cached!.hasPositionIds) {
              const ids2d = positions(length, fed, first);
              inputs.push(tf.tensor2d(ids2d, [batch, ids2d[0]!.length], 'int32'));
            }
            const pastTensors = past ?? cached!.layers.flatMap((layout) => [tf.zeros([batch, layout.numKeyValueHeads, 0, layout.headDim]), tf.zeros([batch, layout.numKeyValueHeads, 0, layout.headDim])]);
            const outputs = cached!.model.apply([...inputs, ...pastTensors], { training: false }) as tf.Tensor[];
            logits = outputs[0]!;
            const presents = outputs.slice(cached!.numSourceOutputs);
            tf.dispose(past ?? []);
            past = presents.map((tensor) => tf.keep(tensor));
          } else {
            const output = model.apply(model.inputs.length >= 2 ? [ids, attention] : [ids], { training: false });
            logits = (Array.isArray(output) ? output[0]! : output) as tf.Tensor;
          }
          const [, seq, vocab] = logits.shape as [number, number, number];
          return tf.reshape(tf.slice(logits, [0, seq - 1, 0], [batch, 1, vocab]), [batch, vocab]);
        });
      const inContext = () => (options.taskIds ? withForwardContext({ taskIds: options.taskIds }, forward) : forward());
      const nextScores = first ? inContext() : withoutPromptInjection(inContext);
      let chosen: number[];
      if (doSample) {
        const values = (await nextScores.data()) as Float32Array;
        const vocab = nextScores.shape[1]!;
        chosen = Array.from({ length: batch }, (_, row) => models.sampleToken(values.subarray(row * vocab, (row + 1) * vocab), sampling, random));
      } else {
        const argMax = tf.argMax(nextScores, -1);
        chosen = Array.from(await argMax.data());
        argMax.dispose();
      }
      nextScores.dispose();
      const tokens = chosen.map((token, row) => (finished[row] ? padTokenId : token));
      tokens.forEach((token, row) => {
        sequences[row]!.push(token);
        mask[row]!.push(1);
        if (!finished[row] && eos.includes(token)) finished[row] = true;
      });
      options.onStep?.(tokens, step);
      if (finished.every(Boolean)) break;
    }
  } finally {
    tf.dispose(past ?? []);
  }
  return sequences;
}
