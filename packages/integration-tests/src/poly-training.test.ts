import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, registerTuner, setWarningHandler, withForwardContext } from '@peftjs/core';
import { AutoModelForCausalLM, causalLmLoss, loadTokenizer } from '@peftjs/models';
import { initBackend } from '@peftjs/runtime';
import { createPolyConfig, poly } from '@peftjs/poly';

const TINY_LM = fileURLToPath(new URL('../../../examples/tiny-lm/base', import.meta.url));
const TRAIN_ROWS = fileURLToPath(new URL('../../../examples/tiny-lm/data/qa-train.jsonl', import.meta.url));

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  registerTuner(poly);
  setWarningHandler(() => {});
});

describe('Poly training on the tiny LM example', () => {
  it('reduces the loss with two tasks routed per row (llama defaults q_proj, v_proj)', async () => {
    const tokenizer = (await loadTokenizer(TINY_LM))!;
    const rows = readFileSync(TRAIN_ROWS, 'utf8')
      .trim()
      .split('\n')
      .slice(0, 8)
      .map((line) => JSON.parse(line) as { prompt: string; completion: string });
    const ids = tf.tensor2d(
      rows.map(({ prompt, completion }) => tokenizer.encode(prompt + completion).inputIds.slice(0, 16)),
      [8, 16],
      'int32',
    );
    const mask = tf.onesLike(ids);
    const taskIds = [0, 1, 0, 1, 0, 1, 0, 1];
    const model = await AutoModelForCausalLM.fromPretrained(TINY_LM);
    const peftModel = getPeftModel(model, createPolyConfig({ r: 4, nTasks: 2, nSkills: 2 }));
    expect(peftModel.targetedModuleNames).toHaveLength(8);
    const variables = peftModel.model.trainableWeights.map((weight) => weight.read() as tf.Variable);
    const optimizer = tf.train.adam(0.01);
    const tensorsBefore = tf.memory().numTensors;
    const evaluate = async () => {
      const loss = withForwardContext({ taskIds }, () => tf.tidy(() => causalLmLoss(ids, peftModel.model.apply([ids, mask]) as tf.Tensor)));
      const value = (await loss.data())[0]!;
      loss.dispose();
      return value;
    };
    const before = await evaluate();
    for (let step = 0; step < 10; step++) {
      const loss = withForwardContext(
        { taskIds },
        () => optimizer.minimize(() => causalLmLoss(ids, peftModel.model.apply([ids, mask], { training: true }) as tf.Tensor), true, variables)!,
      );
      loss.dispose();
    }
    const after = await evaluate();
    expect(after).toBeLessThan(before * 0.8);
    optimizer.dispose();
    expect(tf.memory().numTensors).toBeLessThanOrEqual(tensorsBefore);
    tf.dispose([ids, mask]);
  }, 240_000);
});
