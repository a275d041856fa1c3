import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, registerTuner, setWarningHandler } from '@peftjs/core';
import { AutoModelForCausalLM, causalLmLoss, loadTokenizer } from '@peftjs/models';
import { initBackend } from '@peftjs/runtime';
import { createLnTuningConfig, lnTuning } from '@peftjs/ln-tuning';

const TINY_LM = fileURLToPath(new URL('../../../examples/tiny-lm/base', import.meta.url));
const TRAIN_ROWS = fileURLToPath(new URL('../../../examples/tiny-lm/data/qa-train.jsonl', import.meta.url));

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  registerTuner(lnTuning);
  setWarningHandler(() => {});
});

describe('LN tuning training on the tiny LM example', () => {
  it('reduces the loss by training only the RMSNorm copies', async () => {
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
    const model = await AutoModelForCausalLM.fromPretrained(TINY_LM);
    const peftModel = getPeftModel(model, createLnTuningConfig());
    // 4 layers × (input_layernorm, post_attention_layernorm) + the final norm.
    expect(peftModel.targetedModuleNames).toHaveLength(9);
    expect(peftModel.trainableParametersReport()).toMatch(/^trainable params: 1,152 \|\|/);
    const variables = peftModel.model.trainableWeights.map((weight) => weight.read() as tf.Variable);
    const frozen = await model.getLayer('lm_head').getWeights()[0]!.data();
    const optimizer = tf.train.adam(0.05);
    const tensorsBefore = tf.memory().numTensors;
    const losses: number[] = [];
    for (let step = 0; step < 12; step++) {
      const loss = optimizer.minimize(() => causalLmLoss(ids, peftModel.model.apply([ids, mask], { training: true }) as tf.Tensor), true, variables)!;
      losses.push((await loss.data())[0]!);
      loss.dispose();
    }
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! * 0.8);
    expect(await model.getLayer('lm_head').getWeights()[0]!.data()).toEqual(frozen);
    optimizer.dispose();
    expect(tf.memory().numTensors).toBeLessThanOrEqual(tensorsBefore);
    tf.dispose([ids, mask]);
  }, 240_000);
});
