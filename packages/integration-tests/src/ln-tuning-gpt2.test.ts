import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { getLayerByPath, getPeftModel, registerTuner, setWarningHandler } from '@peftjs/core';
import { maxAbsDifference, maxCloseViolation, perturbAdapter } from '@peftjs/core/testing';
import { createLnTuningConfig, lnTuning, LNTuningLayer } from '@peftjs/ln-tuning';
import { AutoModelForCausalLM } from '@peftjs/models';
import { peftFixturePath } from '../../../test-fixtures/index';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(lnTuning);
  setWarningHandler(() => {});
});

describe('LN tuning on GPT-2 LayerNorms (default targets ln_1, ln_2, ln_f)', () => {
  it('copies weight and bias, saves them under ln_tuning_layers, and merge writes the copies into the model', async () => {
    const base = await AutoModelForCausalLM.fromPretrained(peftFixturePath('gpt2-lora', 'base'));
    const inputs = [tf.tensor2d([[3, 14, 15, 92, 65]], [1, 5], 'int32'), tf.ones([1, 5], 'int32')];
    const baseOutput = base.predict(inputs) as tf.Tensor;
    const peftModel = getPeftModel(base, createLnTuningConfig());
    expect(peftModel.targetedModuleNames).toEqual(['transformer.h.0.ln_1', 'transformer.h.0.ln_2', 'transformer.h.1.ln_1', 'transformer.h.1.ln_2', 'transformer.ln_f']);
    const shapes = peftModel.getStateDictShapes();
    expect(shapes['base_model.model.transformer.h.0.ln_1.ln_tuning_layers.weight']).toEqual([32]);
    expect(shapes['base_model.model.transformer.h.0.ln_1.ln_tuning_layers.bias']).toEqual([32]);
    expect(Object.keys(shapes)).toHaveLength(10);
    // The copies run the same math as the originals; the fused LayerNorm may round its last bit differently.
    expect(await maxCloseViolation(peftModel.model.predict(inputs) as tf.Tensor, baseOutput, 1e-6, 0)).toBe(0);
    await perturbAdapter(peftModel, 'default', 0.2);
    const adapted = peftModel.model.predict(inputs) as tf.Tensor;
    expect(await maxAbsDifference(adapted, baseOutput)).toBeGreaterThan(1e-3);
    const copy = (getLayerByPath(peftModel.model, 'transformer.ln_f') as LNTuningLayer)
      .copyOf('default')
      .getWeights()
      .map((weight) => weight.clone());
    const merged = await peftModel.mergeAndUnload();
    expect(await maxCloseViolation(merged.predict(inputs) as tf.Tensor, adapted, 1e-5, 1e-5)).toBe(0);
    const mergedWeights = getLayerByPath(merged, 'transformer.ln_f')!.getWeights();
    for (const [index, weight] of copy.entries()) expect(await maxCloseViolation(mergedWeights[index]!, weight, 0, 0)).toBe(0);
    tf.dispose([...inputs, baseOutput, adapted, ...copy]);
  });
});
