import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { getModelInfo, setModelInfo } from '@peftjs/core';
import { modelFromConfig } from '@peftjs/models';

/** A tiny Llama config.json (grouped-query attention: 4 heads, 2 key/value heads). */
export const TINY_LLAMA = {
  model_type: 'llama',
  hidden_size: 16,
  intermediate_size: 32,
  num_hidden_layers: 3,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 40,
  initializer_range: 0.2,
  eos_token_id: 2,
};

/** A tiny seeded Llama whose logits are averaged over the sequence (`[batch, vocab]`), with the model type kept. */
export function pooledTinyLlama(config: Record<string, unknown> = TINY_LLAMA, seed = 3): tfl.LayersModel {
  const lm = modelFromConfig(config, 'causal-lm', { seed });
  const pooled = tfl.layers.globalAveragePooling1d({ name: 'pool' }).apply(lm.outputs[0]!) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: lm.inputs, outputs: pooled });
  setModelInfo(model, getModelInfo(lm));
  return model;
}

export function tinyInputs(batch = 2, length = 5, vocab = 40, seed = 9): [tf.Tensor, tf.Tensor] {
  return [tf.randomUniform([batch, length], 0, vocab, 'int32', seed), tf.ones([batch, length], 'float32')];
}
