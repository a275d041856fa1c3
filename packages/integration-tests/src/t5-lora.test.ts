import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, namedParameters, registerTuner } from '@peftjs/core';
import { maxAbsDifference } from '@peftjs/core/testing';
import { lora } from '@peftjs/lora';
import {
  AutoModelForSeq2SeqLM,
  compileForLabels,
  generate,
  loadWeights,
  modelStateDict,
  relativePositionBucket,
  seq2seqCacheModel,
  seq2seqLmLoss,
  shiftTokensRight,
  T5ForConditionalGeneration,
  T5Model,
  weightsFromTensors,
} from '@peftjs/models';
import { TINY_T5 } from '../../../test-fixtures/tiny-configs';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(lora);
});

describe('relativePositionBucket', () => {
  it("is transformers' _relative_position_bucket (32 buckets, max distance 128)", () => {
    const bidirectional = (relative: number) => relativePositionBucket(relative, true, 32, 128);
    const causal = (relative: number) => relativePositionBucket(relative, false, 32, 128);
    expect([0, -1, 1, -7, 7, -8, 8, -20, 20, -200, 200].map(bidirectional)).toEqual([0, 1, 17, 7, 23, 8, 24, 10, 26, 15, 31]);
    expect([0, 5, -1, -15, -16, -20, -100, -1000].map(causal)).toEqual([0, 0, 1, 15, 16, 17, 30, 31]);
  });
});

describe('T5 (ReLU FFN, tied head)', () => {
  it('has transformers parameter names: shared once, relative_attention_bias in block 0 only, no lm_head, ReLU wi', () => {
    const model = T5ForConditionalGeneration.fromConfig(TINY_T5, { seed: 3 });
    const names = [...namedParameters(model).keys()];
    expect(names.filter((name) => name.includes('embed_tokens') || name === 'lm_head.weight')).toEqual([]);
    expect(names.filter((name) => name.includes('relative_attention_bias'))).toEqual([
      'encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight',
      'decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight',
    ]);
    expect(names).toContain('shared.weight');
    expect(names).toContain('decoder.block.2.layer.2.DenseReluDense.wi.weight');
    expect(names).toContain('decoder.block.2.layer.1.EncDecAttention.o.weight');
    // shared + 2 position biases + encoder 2×(2 norms + 4 attention + 2 FFN) + final norm + decoder 3×(3 norms + 8 attention + 2 FFN) + final norm.
    expect(names).toHaveLength(1 + 2 + 2 * 8 + 1 + 3 * 13 + 1);
    model.dispose();
  });

  it('a tied head rescales the decoder output by d_model**-0.5 and reads shared', async () => {
    const model = T5ForConditionalGeneration.fromConfig(TINY_T5, { seed: 3 });
    const bare = T5Model.fromConfig(TINY_T5, { init: 'zeros' });
    const weights = modelStateDict(model);
    await loadWeights(bare, weightsFromTensors(weights));
    const inputs = [tf.tensor2d([[5, 6, 7, 1]], [1, 4], 'int32'), tf.ones([1, 4]), tf.tensor2d([[0, 9, 3]], [1, 3], 'int32')];
    const before = tf.memory().numTensors;
    const logits = model.predict(inputs) as tf.Tensor;
    const expected = tf.tidy(() => {
      const hidden = bare.predict(inputs) as tf.Tensor;
      return tf.reshape(tf.matMul(tf.reshape(tf.mul(hidden, 16 ** -0.5), [3, 16]), weights['shared.weight']!, false, true), [1, 3, 40]);
    });
    expect(await maxAbsDifference(logits, expected)).toBeLessThan(1e-5);
    tf.dispose([logits, expected]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...inputs, ...Object.values(weights)]);
    model.dispose();
    bare.dispose();
  });

  it('generate: the cached encoder/decoder split gives the ids of full forward passes, for a padded batch too', async () => {
    const model = AutoModelForSeq2SeqLM.fromConfig(TINY_T5, { seed: 5 });
    const prompts = [
      [7, 8, 9, 10, 1],
      [11, 12, 1, 0, 0],
    ];
    const attentionMask = [
      [1, 1, 1, 1, 1],
      [1, 1, 1, 0, 0],
    ];
    const cached = seq2seqCacheModel(model)!;
    expect(cached.numCrossAttentionLayers).toBe(3);
    expect(cached.layers).toHaveLength(3);
    const options = { attentionMask, maxNewTokens: 5, eosTokenId: null };
    await generate(model, prompts, options);
    const before = tf.memory().numTensors;
    const ids = await generate(model, prompts, options);
    expect(ids.map((row) => row.length)).toEqual([6, 6]);
    expect(ids.map((row) => row[0])).toEqual([0, 0]);
    expect(await generate(model, prompts, { ...options, useCache: false })).toEqual(ids);
    // Row 1 alone, unpadded, gives the same ids: the encoder mask hides the padding.
    expect(await generate(model, [[11, 12, 1]], { maxNewTokens: 5, eosTokenId: null })).toEqual([ids[1]]);
    expect(await generate(model, prompts, { ...options, decoderStartTokenId: 3 }).then((rows) => rows.map((row) => row[0]))).toEqual([3, 3]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('trains LoRA with fit on (input_ids, attention_mask, shift_right(labels)) → labels; only the adapter moves', async () => {
    const model = AutoModelForSeq2SeqLM.fromConfig(TINY_T5, { seed: 7 });
    const peft = getPeftModel(model, { peft_type: 'LORA', task_type: 'SEQ_2_SEQ_LM', r: 2, lora_alpha: 4, init_lora_weights: false });
    const labels = tf.tensor2d(
      [
        [4, 5, 6, 1],
        [7, 8, 1, -100],
      ],
      [2, 4],
      'int32',
    );
    const decoderInputIds = shiftTokensRight(labels, 0, 0);
    expect(await decoderInputIds.array()).toEqual([
      [0, 4, 5, 6],
      [0, 7, 8, 1],
    ]);
    const inputs = [
      tf.tensor2d(
        [
          [9, 10, 11, 1],
          [12, 13, 1, 0],
        ],
        [2, 4],
        'int32',
      ),
      tf.tensor2d([
        [1, 1, 1, 1],
        [1, 1, 1, 0],
      ]),
      decoderInputIds,
    ];
    const lossOf = () => tf.tidy(() => seq2seqLmLoss(labels, peft.model.predict(inputs) as tf.Tensor).dataSync()[0]!);
    const base = tf.tidy(() => (model.getWeights()[0] as tf.Tensor).clone());
    const first = lossOf();
    compileForLabels(peft.model, { optimizer: tf.train.adam(0.05), loss: seq2seqLmLoss });
    await peft.model.fit(inputs, labels, { epochs: 5, batchSize: 2, verbose: 0 });
    expect(lossOf()).toBeLessThan(first);
    expect(await maxAbsDifference(model.getWeights()[0]!, base)).toBe(0);
    tf.dispose([labels, ...inputs, base]);
    model.dispose();
  });
});
