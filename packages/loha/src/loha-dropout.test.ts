import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { getLayerByPath, getPeftModel, registerTuner } from '@peftjs/core';
import { maxAbsDifference, perturbAdapter } from '@peftjs/core/testing';
import { lycorisMlp, lycorisMlpInputs } from '@peftjs/lycoris/testing';
import { loha, type LohaDense } from './index';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(loha);
});

describe('LoHa dropouts, as PEFT 0.11.1 (training only)', () => {
  it('module_dropout skips the whole adapter with its probability; never in inference', async () => {
    const before = tf.memory().numTensors;
    const inputs = lycorisMlpInputs();
    const always = getPeftModel(lycorisMlp(), { peft_type: 'LOHA', r: 2, target_modules: ['lin1'], module_dropout: 1 });
    await perturbAdapter(always, 'default');
    const base = always.disableAdapter(() => always.model.predict(inputs) as tf.Tensor);
    const adapted = always.model.predict(inputs) as tf.Tensor;
    const training = always.model.apply(inputs, { training: true }) as tf.Tensor;
    expect(await maxAbsDifference(adapted, base)).toBeGreaterThan(1e-3);
    expect(await maxAbsDifference(training, base)).toBe(0);

    const half = getPeftModel(lycorisMlp(), { peft_type: 'LOHA', r: 2, target_modules: ['lin1'], module_dropout: 0.5 });
    await perturbAdapter(half, 'default');
    let skipped = 0;
    for (let run = 0; run < 200; run++) {
      const output = half.model.apply(inputs, { training: true }) as tf.Tensor;
      if ((await maxAbsDifference(output, base)) === 0) skipped++;
      output.dispose();
    }
    expect(skipped).toBeGreaterThan(60);
    expect(skipped).toBeLessThan(140);
    tf.dispose([inputs, base, adapted, training]);
    for (const model of [always.unload(), half.unload()]) for (const weight of model.weights) weight.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rank_dropout zeroes output rows of ΔW and divides the kept ones by the kept fraction', async () => {
    const peftModel = getPeftModel(lycorisMlp(), { peft_type: 'LOHA', r: 2, target_modules: ['lin1'], rank_dropout: 0.5, init_weights: false });
    const layer = getLayerByPath(peftModel.model, 'lin1') as LohaDense;
    const before = tf.memory().numTensors;
    const read = async (tensor: tf.Tensor) => {
      const values = (await tensor.array()) as number[][];
      tensor.dispose();
      return values;
    };
    const full = await read(layer.deltaWeight('default'));
    let sawDrop = false;
    for (let run = 0; run < 20; run++) {
      const dropped = await read(layer.deltaWeight('default', { training: true }));
      const kept = dropped.map((row) => row.some((value) => value !== 0));
      const keptCount = kept.filter(Boolean).length;
      if (keptCount === 0) continue; // PEFT divides by a zero mean here (NaN); nothing to compare
      if (keptCount < kept.length) sawDrop = true;
      const factor = kept.length / keptCount;
      dropped.forEach((row, index) => row.forEach((value, column) => expect(value).toBeCloseTo(kept[index] ? full[index]![column]! * factor : 0, 5)));
    }
    expect(sawDrop).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });
});
