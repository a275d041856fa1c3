import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@peftjs/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, registerTuner, setWarningHandler } from '@peftjs/core';
import { AutoModelForCausalLM, causalLmLoss, loadTokenizer } from '@peftjs/models';
import { adalora, AdaLoraDense, adaloraLayers, createAdaloraConfig, disposeRankAllocator, type AdaLoraConfig } from '@peftjs/adalora';

const TINY_LM = fileURLToPath(new URL('../../../examples/tiny-lm/base', import.meta.url));
const TRAIN_ROWS = fileURLToPath(new URL('../../../examples/tiny-lm/data/qa-train.jsonl', import.meta.url));

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  registerTuner(adalora);
  setWarningHandler(() => {});
});

/** Eight question/answer rows of the tiny-LM example, cut to a common length. */
async function batch(length: number): Promise<tf.Tensor2D> {
  const tokenizer = (await loadTokenizer(TINY_LM))!;
  const rows = readFileSync(TRAIN_ROWS, 'utf8')
    .trim()
    .split('\n')
    .slice(0, 8)
    .map((line) => JSON.parse(line) as { prompt: string; completion: string });
  const ids = rows.map(({ prompt, completion }) => tokenizer.encode(prompt + completion).inputIds.slice(0, length));
  for (const row of ids) expect(row).toHaveLength(length);
  return tf.tensor2d(ids, [ids.length, length], 'int32');
}

describe('AdaLoRA training on the tiny LM example', () => {
  it('reduces the loss while the rank allocator prunes to target_r per module, through the training hooks', async () => {
    const model = await AutoModelForCausalLM.fromPretrained(TINY_LM);
    const ids = await batch(16);
    const mask = tf.onesLike(ids);
    const totalStep = 14;
    const config = createAdaloraConfig({ initR: 6, targetR: 2, tinit: 2, tfinal: 4, totalStep, loraAlpha: 16, targetModules: ['q_proj', 'v_proj'], orthRegWeight: 0.1 });
    const peftModel = getPeftModel(model, config);
    const hooks = adalora.training!;
    const variables = peftModel.model.trainableWeights.map((weight) => weight.read() as tf.Variable);
    expect(variables).toHaveLength(4 * 2 * 3);
    const optimizer = tf.train.adam(0.01);
    const tensorsBefore = tf.memory().numTensors;
    const losses: number[] = [];
    let lastLoss: tf.Scalar | undefined;
    for (let step = 1; step <= totalStep; step++) {
      const { value, grads } = tf.variableGrads(() => {
        const logits = peftModel.model.apply([ids, mask], { training: true }) as tf.Tensor;
        const loss = causalLmLoss(ids, logits);
        lastLoss = tf.keep(tf.clone(loss));
        const extra = hooks.extraLoss!({ peftModel, adapterName: 'default', globalStep: step })!;
        return tf.add(loss, extra) as tf.Scalar;
      }, variables);
      optimizer.applyGradients(grads as unknown as Parameters<typeof optimizer.applyGradients>[0]);
      await hooks.afterOptimizerStep!({ peftModel, adapterName: 'default', globalStep: step, gradients: new Map(Object.entries(grads)) });
      tf.dispose([value, ...Object.values(grads)]);
      losses.push((await lastLoss!.data())[0]!);
      lastLoss!.dispose();
    }
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! * 0.8);

    // The final pattern keeps at most target_r · 8 modules = 16 triplets, unevenly spread, and a save writes only those.
    const pattern = (peftModel.peftConfig.default as AdaLoraConfig).rankPattern!;
    expect(Object.keys(pattern)).toHaveLength(8);
    const kept = Object.values(pattern).map((entry) => entry.filter(Boolean).length);
    expect(kept.reduce((sum, count) => sum + count, 0)).toBeLessThanOrEqual(16);
    expect(kept.reduce((sum, count) => sum + count, 0)).toBeGreaterThan(8);
    const shapes = peftModel.getStateDictShapes();
    for (const { path, layer } of adaloraLayers(peftModel, 'default')) {
      const keptHere = pattern[`${path}.lora_E`]!.filter(Boolean).length;
      expect(shapes[`base_model.model.${path}.lora_A`]).toEqual([keptHere, 128]);
      const values = await (layer as AdaLoraDense).triplets('default').e.read().data();
      pattern[`${path}.lora_E`]!.forEach((isKept, index) => {
        if (!isKept) expect(Math.abs(values[index]!)).toBe(0);
      });
    }
    optimizer.dispose();
    disposeRankAllocator(peftModel);
    expect(tf.memory().numTensors).toBeLessThanOrEqual(tensorsBefore);
    tf.dispose([ids, mask]);
  }, 240_000);
});
