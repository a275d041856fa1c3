import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { namedParameters } from '@peftjs/core';
import { alibiSlopes, AutoModelForCausalLM, OPTModel } from './index';
import { TINY_BLOOM, TINY_OPT_350M_STYLE } from '../../../test-fixtures/tiny-configs';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function shapes(model: Parameters<typeof namedParameters>[0]): Record<string, number[]> {
  return Object.fromEntries([...namedParameters(model)].map(([name, param]) => [name, [...param.torchShape]]));
}

describe('OPT', () => {
  it('opt-350m style (word_embed_proj_dim 8 ≠ hidden 16, post-LayerNorm): transformers parameter names and shapes, no final LayerNorm', () => {
    const model = AutoModelForCausalLM.fromConfig(TINY_OPT_350M_STYLE, { seed: 1 });
    const params = shapes(model);
    expect(params['model.decoder.embed_tokens.weight']).toEqual([50, 8]);
    expect(params['model.decoder.embed_positions.weight']).toEqual([18, 16]);
    expect(params['model.decoder.project_in.weight']).toEqual([16, 8]);
    expect(params['model.decoder.project_out.weight']).toEqual([8, 16]);
    expect(params['model.decoder.layers.1.self_attn.q_proj.bias']).toEqual([16]);
    expect(params['model.decoder.layers.1.fc1.weight']).toEqual([32, 16]);
    expect(params['model.decoder.layers.1.final_layer_norm.weight']).toEqual([16]);
    expect(params['model.decoder.final_layer_norm.weight']).toBeUndefined();
    expect(params['lm_head.weight']).toBeUndefined(); // tied to embed_tokens
    // 2 + 2 projections, and per layer 4 attention projections, 2 LayerNorms, fc1, fc2 (weight + bias each).
    expect(Object.keys(params)).toHaveLength(4 + 2 * 16);
    const logits = model.predict([tf.tensor2d([[3, 4, 5]], [1, 3], 'int32'), tf.ones([1, 3])]) as tf.Tensor;
    expect(logits.shape).toEqual([1, 3, 50]);
    logits.dispose();
    model.dispose();
  });

  it('OPTModel has the paths of transformers OPTModel (decoder.…) and returns the hidden state', () => {
    const model = OPTModel.fromConfig({ ...TINY_OPT_350M_STYLE, word_embed_proj_dim: 16, do_layer_norm_before: true });
    const params = shapes(model);
    expect(params['decoder.final_layer_norm.weight']).toEqual([16]);
    expect(params['decoder.project_in.weight']).toBeUndefined();
    expect(model.outputs[0]!.shape).toEqual([null, null, 16]);
    model.dispose();
  });
});

describe('BLOOM', () => {
  it("ALiBi slopes are transformers' build_alibi_tensor slopes, also for a head count that is not a power of two", () => {
    expect(alibiSlopes(4)).toEqual([0.25, 0.0625, 0.015625, 0.00390625]);
    expect(alibiSlopes(6)).toEqual([0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125]);
    expect(alibiSlopes(8)).toEqual([0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625]);
  });

  it('has transformers parameter names (fused query_key_value [3·hidden, hidden], embedding LayerNorm)', () => {
    const model = AutoModelForCausalLM.fromConfig(TINY_BLOOM, { seed: 1 });
    const params = shapes(model);
    expect(params['transformer.word_embeddings.weight']).toEqual([50, 24]);
    expect(params['transformer.word_embeddings_layernorm.bias']).toEqual([24]);
    expect(params['transformer.h.0.self_attention.query_key_value.weight']).toEqual([72, 24]);
    expect(params['transformer.h.1.mlp.dense_4h_to_h.weight']).toEqual([24, 96]);
    expect(params['transformer.ln_f.weight']).toEqual([24]);
    expect(params['lm_head.weight']).toBeUndefined();
    model.dispose();
  });
});
