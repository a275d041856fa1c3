import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, registerTuner, setWarningHandler, type PeftModel } from '@peftjs/core';
import { perturbAdapter } from '@peftjs/core/testing';
import { generate, generate as generateBase } from '@peftjs/models';
import { TINY_LLAMA, tinyCausalLm } from './__fixtures__/tiny-models';
import { activePrompt, forwardCausalLm, pTuning, prefixTuning, promptTuning } from './index';

beforeAll(async () => {
  await tf.setBackend('wasm');
  for (const tuner of [promptTuning, pTuning, prefixTuning]) registerTuner(tuner);
  setWarningHandler(() => {});
});

const configs: Array<[string, Record<string, unknown>]> = [
  ['prompt tuning', { peft_type: 'PROMPT_TUNING', num_virtual_tokens: 3 }],
  ['P-tuning (LSTM)', { peft_type: 'P_TUNING', num_virtual_tokens: 3, encoder_reparameterization_type: 'LSTM', encoder_hidden_size: 6 }],
  ['prefix tuning', { peft_type: 'PREFIX_TUNING', num_virtual_tokens: 3 }],
  ['prefix tuning (projection)', { peft_type: 'PREFIX_TUNING', num_virtual_tokens: 2, prefix_projection: true }],
];

async function adapted(modelConfig: Record<string, unknown> | undefined, config: Record<string, unknown>): Promise<PeftModel> {
  const peftModel = getPeftModel(tinyCausalLm(modelConfig), config);
  await perturbAdapter(peftModel, 'default', 1, 5);
  return peftModel;
}

/** Greedy decoding by full forward passes (PEFT's forward, no cache), the reference for generate(). */
async function greedyByForward(peftModel: PeftModel, prompts: number[][], mask: number[][], steps: number): Promise<number[][]> {
  const sequences = prompts.map((row) => [...row]);
  const masks = mask.map((row) => [...row]);
  for (let step = 0; step < steps; step++) {
    const next = tf.tidy(() => {
      const ids = tf.tensor2d(sequences);
      const { logits } = forwardCausalLm(peftModel, { inputIds: ids, attentionMask: tf.tensor2d(masks) });
      const [batch, seq, vocab] = logits.shape as [number, number, number];
      return tf.argMax(tf.reshape(tf.slice(logits, [0, seq - 1, 0], [batch, 1, vocab]), [batch, vocab]), -1);
    });
    const tokens = Array.from(await next.data());
    next.dispose();
    tokens.forEach((token, row) => {
      sequences[row]!.push(token);
      masks[row]!.push(1);
    });
  }
  return sequences;
}

describe.each([
  ['GPT-2', undefined],
  ['Llama (GQA)', TINY_LLAMA],
])('generate() on a tiny %s', (_, modelConfig) => {
  it.each(configs)('%s: the KV cache gives the ids of full forward passes (prompts on the first step only, mask extended at every step)', async (_name, config) => {
    const peftModel = await adapted(modelConfig, config);
    const prompts = [
      [5, 9, 3, 7, 1],
      [2, 4, 6, 8, 10],
    ];
    const ones = prompts.map((row) => row.map(() => 1));
    const leftPadded = [
      [0, 0, 1, 1, 1],
      [1, 1, 1, 1, 1],
    ];
    const before = tf.memory().numTensors;
    for (const mask of [ones, leftPadded]) {
      const reference = await greedyByForward(peftModel, prompts, mask, 6);
      const options = { maxNewTokens: 6, attentionMask: mask, eosTokenId: null };
      expect(await generate(peftModel, prompts, options)).toEqual(reference);
      expect(await generate(peftModel, prompts, { ...options, useCache: false })).toEqual(reference);
    }
    expect(tf.memory().numTensors).toBe(before);
    peftModel.unload();
  });

  it('with the adapter disabled, generates as the base model', async () => {
    const peftModel = await adapted(modelConfig, { peft_type: 'PROMPT_TUNING', num_virtual_tokens: 4 });
    const prompts = [
      [0, 3, 5, 7],
      [9, 8, 7, 6],
    ];
    const attentionMask = [
      [0, 1, 1, 1],
      [1, 1, 1, 1],
    ];
    const before = tf.memory().numTensors;
    const base = await generateBase(peftModel.baseModel, prompts, { maxNewTokens: 5, attentionMask, eosTokenId: null });
    const disabled = await peftModel.disableAdapter(() => generate(peftModel, prompts, { maxNewTokens: 5, attentionMask, eosTokenId: null }));
    expect(disabled).toEqual(base);
    expect(activePrompt(peftModel)).toEqual({ kind: 'input', numVirtualTokens: 4 });
    const adaptedIds = await generate(peftModel, prompts, { maxNewTokens: 5, attentionMask, eosTokenId: null });
    expect(adaptedIds).not.toEqual(base);
    expect(tf.memory().numTensors).toBe(before);
    peftModel.unload();
  });

  it('samples reproducibly with a seed and stops rows at EOS', async () => {
    const peftModel = await adapted(modelConfig, { peft_type: 'PREFIX_TUNING', num_virtual_tokens: 2 });
    const prompts = [[1, 2, 3]];
    const before = tf.memory().numTensors;
    const first = await generate(peftModel, prompts, { maxNewTokens: 6, doSample: true, seed: 42, eosTokenId: null });
    expect(await generate(peftModel, prompts, { maxNewTokens: 6, doSample: true, seed: 42, eosTokenId: null })).toEqual(first);
    const greedy = await generate(peftModel, prompts, { maxNewTokens: 6, eosTokenId: null });
    const stopped = await generate(peftModel, prompts, { maxNewTokens: 6, eosTokenId: greedy[0]![3]!, padTokenId: 0 });
    expect(stopped[0]!.slice(0, 4)).toEqual(greedy[0]!.slice(0, 4));
    expect(stopped[0]!.length).toBe(4);
    expect(tf.memory().numTensors).toBe(before);
    peftModel.unload();
  });
});
