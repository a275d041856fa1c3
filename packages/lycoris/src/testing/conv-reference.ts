import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { getPeftModel, type TunerV1 } from '@peftjs/core';
import { maxCloseViolation } from '@peftjs/core/testing';
import reference from '../__fixtures__/conv-reference.json';

interface Stored {
  shape: number[];
  data: number[];
}

interface ReferenceCase {
  method: string;
  config: Record<string, unknown>;
  stride: number;
  padding: 'same' | 'valid';
  weight: Stored;
  bias: Stored;
  factors: Record<string, Stored>;
  expected: Stored;
}

const tensor = (stored: Stored) => tf.tensor(stored.data, stored.shape, 'float32');

/**
 * Checks a LyCORIS tuner's Conv2D forward against numpy computations of PEFT 0.11.1's formulas in
 * torch layouts (NCHW activations, OIHW weights; `__fixtures__/make-conv-reference.py`): the plain
 * and effective forms, stride 1 valid and stride 2 with padding 1 (tfjs 'same' on a 7×7 input).
 */
export function describeConvReference(tuner: TunerV1<any>): void {
  const cases = (reference.cases as unknown as ReferenceCase[]).filter((entry) => entry.method === tuner.peftType);
  describe(`${tuner.peftType} Conv2D against torch-layout reference outputs`, () => {
    it.each(cases.map((entry, index) => [`${JSON.stringify(entry.config)}, stride ${entry.stride} ${entry.padding}`, index] as const))('%s', async (_, index) => {
      const entry = cases[index]!;
      const before = tf.memory().numTensors;
      const x = tfl.input({ shape: [7, 7, 3] });
      const conv = tfl.layers.conv2d({ filters: 4, kernelSize: 3, strides: entry.stride, padding: entry.padding, name: 'conv' });
      const model = tfl.model({ inputs: x, outputs: conv.apply(x) as tfl.SymbolicTensor });
      const [weight, bias] = [tensor(entry.weight), tensor(entry.bias)];
      const kernel = tf.transpose(weight, [2, 3, 1, 0]);
      conv.setWeights([kernel, bias]);
      const peftModel = getPeftModel(model, { peft_type: tuner.peftType, target_modules: ['conv'], ...entry.config });
      const factors = Object.fromEntries(Object.entries(entry.factors).map(([name, stored]) => [`base_model.model.conv.${name}`, tensor(stored)]));
      peftModel.loadStateDict(factors);
      const inputs = tf.tidy(() => tf.transpose(tensor(reference.x as Stored), [0, 2, 3, 1]));
      const output = peftModel.model.predict(inputs) as tf.Tensor;
      const nchw = tf.transpose(output, [0, 3, 1, 2]);
      const expected = tensor(entry.expected);
      expect(await maxCloseViolation(nchw, expected, 1e-4, 1e-4)).toBe(0);
      const merged = await peftModel.mergeAndUnload();
      const mergedOutput = tf.tidy(() => tf.transpose(merged.predict(inputs) as tf.Tensor, [0, 3, 1, 2]));
      expect(await maxCloseViolation(mergedOutput, expected, 1e-4, 1e-4)).toBe(0);
      tf.dispose([weight, bias, kernel, inputs, output, nchw, expected, mergedOutput, ...Object.values(factors)]);
      for (const variable of merged.weights) variable.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  });
}
