import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { maxAbsDifference } from '@peftjs/core/testing';
import { AutoModelForCausalLM, createRandom, generate, kvCacheModel, sampleToken } from './index';
import { TINY_BLOOM, TINY_GPT2, TINY_LLAMA, TINY_OPT_350M_STYLE } from '../../../test-fixtures/tiny-configs';

beforeAll(async () => {
  await tf.setBackend('wasm');
});

const PAD = 0;

describe.each([
  ['gpt2', TINY_GPT2],
  ['llama', TINY_LLAMA],
  ['mistral (sliding window 4)', { ...TINY_LLAMA, model_type: 'mistral', sliding_window: 4 }],
] as const)('generate on %s', (_name, config) => {
  let model: LayersModel;
  beforeAll(() => {
    model = AutoModelForCausalLM.fromConfig(config, { seed: 11 });
  });

  it('a left-padded batch gives each row what it gives alone (cache and no cache)', async () => {
    const rows = [
      [5, 9, 14],
      [7, 3, 22, 31, 8],
    ];
    const alone = await Promise.all(rows.map((row) => generate(model, [row], { maxNewTokens: 5, eosTokenId: null })));
    const padded = rows.map((row) => [...new Array(5 - row.length).fill(PAD), ...row]);
    const mask = rows.map((row) => [...new Array(5 - row.length).fill(0), ...row.map(() => 1)]);
    const before = tf.memory().numTensors;
    for (const useCache of [true, false]) {
      const batch = await generate(model, padded, { attentionMask: mask, maxNewTokens: 5, eosTokenId: null, useCache });
      expect(batch[0]!.slice(2)).toEqual(alone[0]![0]);
      expect(batch[1]).toEqual(alone[1]![0]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the cached step gives the logits of a full forward pass', async () => {
    const cached = kvCacheModel(model)!;
    expect(cached.layers).toHaveLength(2);
    const sequence = [4, 8, 15, 16, 23, 42];
    const before = tf.memory().numTensors;
    const full = tf.tidy(() => {
      const logits = model.predict([tf.tensor2d([sequence], [1, 6], 'int32'), tf.ones([1, 6])]) as tf.Tensor;
      return tf.slice(logits, [0, 5, 0], [1, 1, -1]);
    });
    const stepped = tf.tidy(() => {
      const empty = cached.layers.flatMap((layout) => [tf.zeros([1, layout.numKeyValueHeads, 0, layout.headDim]), tf.zeros([1, layout.numKeyValueHeads, 0, layout.headDim])]);
      const first = cached.model.predict([
        tf.tensor2d([sequence.slice(0, 5)], [1, 5], 'int32'),
        tf.ones([1, 5]),
        tf.tensor2d([[0, 1, 2, 3, 4]], [1, 5], 'int32'),
        ...empty,
      ]) as tf.Tensor[];
      expect(first[1]!.shape).toEqual([1, cached.layers[0]!.numKeyValueHeads, 5, cached.layers[0]!.headDim]);
      const second = cached.model.predict([tf.tensor2d([[42]], [1, 1], 'int32'), tf.ones([1, 6]), tf.tensor2d([[5]], [1, 1], 'int32'), ...first.slice(1)]) as tf.Tensor[];
      expect(second[1]!.shape[2]).toBe(6);
      return second[0]!;
    });
    expect(await maxAbsDifference(full, stepped)).toBeLessThan(1e-5);
    tf.dispose([full, stepped]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('seeded sampling repeats; top-k 1, a tiny top-p and a tiny temperature are greedy', async () => {
    const prompt = [
      [3, 1, 4, 1],
      [5, 9, 2, 6],
    ];
    const greedy = await generate(model, prompt, { maxNewTokens: 6, eosTokenId: null });
    const sample = (options: object) => generate(model, prompt, { maxNewTokens: 6, eosTokenId: null, doSample: true, ...options });
    const first = await sample({ seed: 1, temperature: 2 });
    expect(await sample({ seed: 1, temperature: 2 })).toEqual(first);
    expect(await sample({ seed: 1, temperature: 2, useCache: false })).toEqual(first);
    const others = await Promise.all([2, 3, 4].map((seed) => sample({ seed, temperature: 2 })));
    expect(others.some((other) => JSON.stringify(other) !== JSON.stringify(first))).toBe(true);
    expect(await sample({ seed: 5, topK: 1 })).toEqual(greedy);
    expect(await sample({ seed: 5, topK: 0, topP: 1e-6 })).toEqual(greedy);
    expect(await sample({ seed: 5, temperature: 1e-4 })).toEqual(greedy);
  });

  it('EOS finishes a row (the rest padded) and stops the batch when all are done; stop sequences too', async () => {
    const prompt = [
      [3, 1, 4, 1],
      [5, 9, 2, 6],
    ];
    const greedy = await generate(model, prompt, { maxNewTokens: 6, eosTokenId: null });
    const eos = greedy[0]![4]!;
    const stopped = await generate(model, prompt, { maxNewTokens: 6, eosTokenId: eos, padTokenId: 1 });
    expect(stopped[0]).toEqual([...prompt[0]!, eos, ...new Array(stopped[0]!.length - 5).fill(1)]);
    const rowOneEos = greedy[1]!.slice(4).indexOf(eos);
    if (rowOneEos < 0) expect(stopped[1]).toEqual(greedy[1]);
    const both = await generate(model, prompt, { maxNewTokens: 6, eosTokenId: [greedy[0]![4]!, greedy[1]![4]!] });
    expect(both.map((row) => row.length)).toEqual([5, 5]);
    const sequence = await generate(model, prompt, { maxNewTokens: 6, eosTokenId: null, stopSequences: [[greedy[0]![4]!, greedy[0]![5]!]], padTokenId: 1 });
    expect(sequence[0]!.slice(0, 6)).toEqual(greedy[0]!.slice(0, 6));
    expect(sequence[0]!.slice(6).every((id) => id === 1)).toBe(true);
  });
});

describe.each([
  ['opt (project_in/out, post-LayerNorm)', TINY_OPT_350M_STYLE],
  ['bloom (6 heads)', TINY_BLOOM],
] as const)('generate on %s, whose positions come from the mask', (_name, config) => {
  it('a left-padded batch gives each row what it gives alone (cache and no cache)', async () => {
    const model = AutoModelForCausalLM.fromConfig(config, { seed: 11 });
    const rows = [
      [5, 9, 14],
      [7, 3, 22, 31, 8],
    ];
    const alone = await Promise.all(rows.map((row) => generate(model, [row], { maxNewTokens: 5, eosTokenId: null })));
    expect(alone[0]![0]).toEqual(await generate(model, [rows[0]!], { maxNewTokens: 5, eosTokenId: null, useCache: false }).then((ids) => ids[0]));
    const padded = rows.map((row) => [...new Array(5 - row.length).fill(PAD), ...row]);
    const mask = rows.map((row) => [...new Array(5 - row.length).fill(0), ...row.map(() => 1)]);
    const before = tf.memory().numTensors;
    for (const useCache of [true, false]) {
      const batch = await generate(model, padded, { attentionMask: mask, maxNewTokens: 5, eosTokenId: null, useCache });
      expect(batch[0]!.slice(2)).toEqual(alone[0]![0]);
      expect(batch[1]).toEqual(alone[1]![0]);
    }
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});

describe('sampleToken', () => {
  const logits = [Math.log(0.6), Math.log(0.3), Math.log(0.1)];
  const draw = (options: { temperature: number; topK: number; topP: number }) => {
    const random = createRandom(42);
    const seen = new Set<number>();
    for (let index = 0; index < 400; index++) seen.add(sampleToken(logits, options, random));
    return [...seen].sort();
  };

  it('draws every token without filters, and only the kept ones with top-k / top-p', () => {
    expect(draw({ temperature: 1, topK: 0, topP: 1 })).toEqual([0, 1, 2]);
    expect(draw({ temperature: 1, topK: 2, topP: 1 })).toEqual([0, 1]);
    expect(draw({ temperature: 1, topK: 0, topP: 0.5 })).toEqual([0]);
    expect(draw({ temperature: 1, topK: 0, topP: 0.85 })).toEqual([0, 1]);
  });

  it('follows the probabilities', () => {
    const random = createRandom(7);
    let zeros = 0;
    for (let index = 0; index < 4000; index++) if (sampleToken(logits, { temperature: 1, topK: 0, topP: 1 }, random) === 0) zeros++;
    expect(zeros / 4000).toBeGreaterThan(0.56);
    expect(zeros / 4000).toBeLessThan(0.64);
  });
});
