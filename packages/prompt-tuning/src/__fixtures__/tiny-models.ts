import type * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { setModelInfo } from '@peftjs/core';
import { modelFromConfig } from '@peftjs/models';

/** Tiny config.json objects (snake_case, as transformers writes them). */
export const TINY_GPT2 = { model_type: 'gpt2', n_layer: 2, n_embd: 16, n_head: 2, vocab_size: 40, n_positions: 32, initializer_range: 0.2 };
export const TINY_LLAMA = {
  model_type: 'llama',
  hidden_size: 16,
  intermediate_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 48,
  initializer_range: 0.2,
  eos_token_id: 2,
};
export const TINY_BERT = {
  model_type: 'bert',
  hidden_size: 16,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 32,
  vocab_size: 40,
  max_position_embeddings: 32,
  id2label: { 0: 'a', 1: 'b', 2: 'c' },
  initializer_range: 0.2,
};

/** A tiny causal LM with seeded weights, registered with its model type and config. */
export function tinyCausalLm(config: Record<string, unknown> = TINY_GPT2, seed = 3): tfl.LayersModel {
  return modelFromConfig(config, 'causal-lm', { seed });
}

/**
 * The tiny LM's logits averaged over the sequence, `[batch, vocab]`: an output whose shape does
 * not depend on the virtual tokens, for the conformance kit's comparisons. The model carries no
 * model type or config, so sizes and the word embedding are found from its layers.
 */
export function pooledTinyLm(config: Record<string, unknown> = TINY_GPT2, seed = 3): tfl.LayersModel {
  const lm = tinyCausalLm(config, seed);
  const pooled = tfl.layers.globalAveragePooling1d({ name: 'pool' }).apply(lm.outputs[0]!) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: lm.inputs, outputs: pooled });
  setModelInfo(model, {});
  return model;
}

export function tinyInputs(tfc: typeof tf, batch = 2, length = 5, vocab = 40, seed = 9): [tf.Tensor, tf.Tensor] {
  const ids = tfc.randomUniform([batch, length], 0, vocab, 'int32', seed);
  return [ids, tfc.ones([batch, length], 'float32')];
}
