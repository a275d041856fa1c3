/**
 * @peftjs/models: generation speed with and without the KV cache on a small LLaMA (hidden 256,
 * 4 layers, 4 heads, vocabulary 1000), wasm backend with @peftjs/runtime's fixes.
 *
 * - One decoding step at a context of 32, 128 and 512 tokens: with the cache the step feeds one
 *   token and the past keys/values; without it the step runs the whole sequence. The goal is a
 *   per-token time that stays flat in the length with the cache.
 * - Whole generations (prompt of 8 tokens) to a length of 32, 128 and 512: tokens per second.
 */
import '@tensorflow/tfjs-backend-cpu';

import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@peftjs/runtime';
import { AutoModelForCausalLM, generate, kvCacheModel } from '@peftjs/models';

import { Bench, runMain } from './harness';

const config = {
  model_type: 'llama',
  hidden_size: 256,
  intermediate_size: 688,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  num_key_value_heads: 4,
  vocab_size: 1000,
  max_position_embeddings: 1024,
};
const LENGTHS = [32, 128, 512];
const PROMPT = 8;

await runMain(async () => {
  await initBackend({ backend: 'wasm' });
  const bench = new Bench('models-generation', 'LLaMA hidden 256 × 4 layers: decoding step and generation, with and without the KV cache');
  const model = AutoModelForCausalLM.fromConfig(config, { seed: 1 });
  const cached = kvCacheModel(model)!;
  const ids = (length: number) => tf.tensor2d([Array.from({ length }, (_, index) => (index * 37 + 11) % config.vocab_size)], [1, length], 'int32');

  const stepCases = LENGTHS.flatMap((length) => {
    // The past of a context of `length`: run the first length - 1 tokens once.
    const past = tf.tidy(() => {
      const empty = cached.layers.flatMap((layout) => [tf.zeros([1, layout.numKeyValueHeads, 0, layout.headDim]), tf.zeros([1, layout.numKeyValueHeads, 0, layout.headDim])]);
      const positions = tf.reshape(tf.range(0, length - 1, 1, 'int32'), [1, length - 1]);
      const outputs = cached.model.predict([ids(length - 1), tf.ones([1, length - 1]), positions, ...empty]) as tf.Tensor[];
      return outputs.slice(1);
    });
    const full = ids(length);
    const fullMask = tf.ones([1, length]);
    const last = tf.tensor2d([[7]], [1, 1], 'int32');
    const position = tf.tensor2d([[length - 1]], [1, 1], 'int32');
    return [
      {
        name: `step at ${length} tokens, KV cache`,
        run: async () => {
          const outputs = cached.model.predict([last, fullMask, position, ...past]) as tf.Tensor[];
          await outputs[0]!.data();
          tf.dispose(outputs);
        },
        note: 'one new token + past keys/values',
        repetitions: 20,
      },
      {
        name: `step at ${length} tokens, no cache`,
        run: async () => {
          const logits = model.predict([full, fullMask]) as tf.Tensor;
          await logits.data();
          logits.dispose();
        },
        note: 'the whole sequence again',
        repetitions: length >= 512 ? 5 : 20,
        budgetMs: 10_000,
      },
    ];
  });
  await bench.interleaved(stepCases);
  for (const length of LENGTHS) bench.compare(`cache speedup of one step at ${length} tokens`, `step at ${length} tokens, no cache`, `step at ${length} tokens, KV cache`);

  const perToken: Record<string, number> = {};
  for (const length of LENGTHS) {
    const prompt = ids(PROMPT);
    for (const useCache of [true, false]) {
      if (!useCache && length > 128) continue; // ~a minute per run: the step table above covers it
      const name = `generate to ${length} tokens, ${useCache ? 'KV cache' : 'no cache'}`;
      const [result] = await bench.interleaved([
        {
          name,
          run: async () => {
            await generate(model, prompt, { maxNewTokens: length - PROMPT, eosTokenId: null, useCache });
          },
          warmup: 1,
          repetitions: length >= 512 || !useCache ? 2 : 5,
          note: `${length - PROMPT} new tokens after an ${PROMPT}-token prompt`,
        },
      ]);
      perToken[name] = Math.round((1000 * (length - PROMPT)) / result!.medianMs);
    }
    prompt.dispose();
  }
  console.table(Object.entries(perToken).map(([name, tokensPerSecond]) => ({ case: name, 'tokens/s': tokensPerSecond })));
  bench.finish({ tokensPerSecond: perToken, config });
});
