import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, registerTuner, setWarningHandler } from '@peftjs/core';
import { maxAbsDifference } from '@peftjs/core/testing';
import { kvCacheModel } from '@peftjs/models';
import { TINY_LLAMA, tinyCausalLm } from './__fixtures__/tiny-models';
import { createPromptTuningConfig, forwardCausalLm, pTuning, prefixTuning, promptTuning } from './index';

beforeAll(async () => {
  await tf.setBackend('wasm');
  for (const tuner of [promptTuning, pTuning, prefixTuning]) registerTuner(tuner);
  setWarningHandler(() => {});
});

const virtual = [4, 11, 7];
const ids = [
  [5, 9, 3, 7, 1, 2],
  [2, 4, 6, 8, 10, 12],
];
const mask = [
  [1, 1, 1, 1, 1, 1],
  [1, 1, 1, 1, 0, 0],
];

describe.each([
  ['GPT-2', undefined],
  ['Llama (GQA)', TINY_LLAMA],
])('what the virtual tokens mean, on a tiny %s', (_, modelConfig) => {
  it('prompt tuning whose prompt is the word embeddings of some ids = the base model on those ids prepended (logits over nvt + seq)', async () => {
    const base = tinyCausalLm(modelConfig);
    const before = tf.memory().numTensors;
    const config = createPromptTuningConfig({ numVirtualTokens: 3, promptTuningInit: 'TEXT', promptTuningInitText: 'x', tokenizerNameOrPath: 't', tokenizer: () => virtual });
    const peftModel = getPeftModel(base, config);
    const inputIds = tf.tensor2d(ids, undefined, 'int32');
    const attentionMask = tf.tensor2d(mask);
    const { logits } = forwardCausalLm(peftModel, { inputIds, attentionMask });
    const expected = tf.tidy(() => {
      const joinedIds = tf.tensor2d(
        ids.map((row) => [...virtual, ...row]),
        undefined,
        'int32',
      );
      const joinedMask = tf.tensor2d(mask.map((row) => [1, 1, 1, ...row]));
      return peftModel.disableAdapter(() => peftModel.model.predict([joinedIds, joinedMask]) as tf.Tensor);
    });
    expect(logits.shape).toEqual([2, 9, base.outputs[0]!.shape[2]!]);
    expect(await maxAbsDifference(logits, expected)).toBeLessThan(1e-5);
    tf.dispose([inputIds, attentionMask, logits, expected]);
    peftModel.unload();
    expect(tf.memory().numTensors).toBe(before);
  });

  it("prefix tuning whose prefix is the base model's own key/value cache of some ids = the base model on those ids prepended (positions start at nvt)", async () => {
    const base = tinyCausalLm(modelConfig);
    const cached = kvCacheModel(base)!;
    // The base's keys/values for the virtual ids: one batch row, positions 0..2.
    const presents = tf.tidy(() => {
      const inputs = [tf.tensor2d([virtual], undefined, 'int32'), tf.ones([1, 3]), tf.tensor2d([[0, 1, 2]], undefined, 'int32')];
      const pasts = cached.layers.flatMap((layout) => [tf.zeros([1, layout.numKeyValueHeads, 0, layout.headDim]), tf.zeros([1, layout.numKeyValueHeads, 0, layout.headDim])]);
      return (cached.model.predict([...inputs, ...pasts]) as tf.Tensor[]).slice(cached.numSourceOutputs);
    });
    // PEFT's layout: [nvt, num_layers * 2, heads, head_dim], chunk 2i = key of layer i, 2i + 1 = value.
    const promptEmbeddings = tf.tidy(() => {
      const chunks = presents.map((present) => tf.transpose(tf.squeeze(present, [0]), [1, 0, 2]));
      const stacked = tf.stack(chunks, 1);
      return tf.reshape(stacked, [3, -1]);
    });
    tf.dispose(presents);
    const peftModel = getPeftModel(base, { peft_type: 'PREFIX_TUNING', num_virtual_tokens: 3 });
    peftModel.loadStateDict({ prompt_embeddings: promptEmbeddings });
    const inputIds = tf.tensor2d(ids, undefined, 'int32');
    const attentionMask = tf.tensor2d(mask);
    const { logits } = forwardCausalLm(peftModel, { inputIds, attentionMask });
    const expected = tf.tidy(() => {
      const joinedIds = tf.tensor2d(
        ids.map((row) => [...virtual, ...row]),
        undefined,
        'int32',
      );
      const joinedMask = tf.tensor2d(mask.map((row) => [1, 1, 1, ...row]));
      const all = peftModel.disableAdapter(() => peftModel.model.predict([joinedIds, joinedMask]) as tf.Tensor);
      return tf.slice(all, [0, 3, 0], [-1, -1, -1]);
    });
    expect(logits.shape).toEqual(expected.shape);
    expect(await maxAbsDifference(logits, expected)).toBeLessThan(1e-5);
    tf.dispose([promptEmbeddings, inputIds, attentionMask, logits, expected]);
    peftModel.unload();
  });
});
