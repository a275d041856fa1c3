import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { AdapterStateError, getLayerByPath, getPeftModel, registerTuner } from '@peftjs/core';
import { maxAbsDifference } from '@peftjs/core/testing';
import { createLoraConfig, initializePissa, lora, type LoraLayer } from './index';
import { matrix, svdJacobi } from './svd';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(lora);
});

function model(): tfl.LayersModel {
  const init = (seed: number) => tfl.initializers.randomNormal({ mean: 0, stddev: 0.4, seed });
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 12, inputShape: [9], activation: 'relu', name: 'lin0', kernelInitializer: init(1), biasInitializer: init(2) }),
      tfl.layers.dense({ units: 5, name: 'lin1', kernelInitializer: init(3), biasInitializer: init(4) }),
    ],
  });
}

function disposeWeights(target: tfl.LayersModel): void {
  for (const weight of target.weights) if (!weight.read().isDisposed) weight.dispose();
}

describe('PiSSA', () => {
  for (const init of ['pissa', 'pissa_niter_4'] as const) {
    it(`${init}: principal components go to A and B, the residual to the base, the output is unchanged`, async () => {
      const base = model();
      const x = tf.randomNormal([4, 9], 0, 1, 'float32', 5);
      const expected = base.predict(x) as tf.Tensor;
      const original = (await base.getLayer('lin0').getWeights()[0]!.data()).slice();
      const peftModel = getPeftModel(base, createLoraConfig({ r: 3, loraAlpha: 6, targetModules: ['lin0', 'lin1'], initLoraWeights: init }));
      expect(() => peftModel.model.predict(x)).toSatisfy((run: () => unknown) => {
        try {
          run();
          return false;
        } catch (error) {
          return AdapterStateError.isInstance(error) && /initializePissa/.test((error as Error).message);
        }
      });
      await expect(peftModel.mergeAdapter()).rejects.toThrow(/initializePissa/);
      const before = tf.memory().numTensors;
      expect(await initializePissa(peftModel)).toBe(2);
      expect(await initializePissa(peftModel)).toBe(0);
      expect(tf.memory().numTensors).toBe(before);
      const output = peftModel.model.predict(x) as tf.Tensor;
      expect(await maxAbsDifference(output, expected)).toBeLessThan(1e-5);

      // s·B·A is the rank-3 truncation of the original weight [out, in].
      const layer = getLayerByPath(peftModel.model, 'lin0') as LoraLayer;
      const { a, b } = layer.factors('default');
      const delta = tf.tidy(() => tf.mul(tf.matMul(b, a), 2));
      const svd = svdJacobi(matrix(12, 9, (await tf.transpose(tf.tensor2d(original, [9, 12])).data()) as Float32Array));
      const truncation = new Float64Array(12 * 9);
      for (let k = 0; k < 3; k++) for (let i = 0; i < 12; i++) for (let j = 0; j < 9; j++) truncation[i * 9 + j] += svd.u.data[i * 9 + k]! * svd.s[k]! * svd.v.data[j * 9 + k]!;
      const reference = tf.tensor2d(Float32Array.from(truncation), [12, 9]);
      if (init === 'pissa') expect(await maxAbsDifference(delta, reference)).toBeLessThan(1e-5);
      else {
        // svd_lowrank (q = r, as PEFT calls it) approximates the subspace: it captures at most, and close to, the optimal energy.
        const energy = tf.tidy(() => tf.sum(tf.square(delta)));
        const captured = (await energy.data())[0]!;
        energy.dispose();
        const optimal = svd.s[0]! ** 2 + svd.s[1]! ** 2 + svd.s[2]! ** 2;
        expect(captured).toBeLessThanOrEqual(optimal * (1 + 1e-5));
        expect(captured).toBeGreaterThan(optimal * 0.8);
      }
      const residual = layer.baseWeight();
      const reconstructed = tf.add(residual, delta);
      const originalTorch = tf.transpose(tf.tensor2d(original, [9, 12]));
      expect(await maxAbsDifference(reconstructed, originalTorch)).toBeLessThan(1e-5);

      const merged = await peftModel.mergeAndUnload();
      const mergedOutput = merged.predict(x) as tf.Tensor;
      expect(await maxAbsDifference(mergedOutput, expected)).toBeLessThan(1e-5);
      tf.dispose([x, expected, output, a, b, delta, reference, residual, reconstructed, originalTorch, mergedOutput]);
      disposeWeights(merged);
    });
  }

  it('with DoRA, the magnitude is the norm of the original weight', async () => {
    const base = model();
    const x = tf.randomNormal([3, 9], 0, 1, 'float32', 6);
    const expected = base.predict(x) as tf.Tensor;
    const peftModel = getPeftModel(base, createLoraConfig({ r: 2, targetModules: ['lin0'], initLoraWeights: 'pissa', useDora: true }));
    await initializePissa(peftModel, 'default');
    const output = peftModel.model.predict(x) as tf.Tensor;
    expect(await maxAbsDifference(output, expected)).toBeLessThan(1e-5);
    tf.dispose([x, expected, output]);
    disposeWeights(peftModel.unload());
  });

  it('is refused for Conv2D (PEFT 0.11.1 has PiSSA for linear layers only)', () => {
    const conv = tfl.sequential({ layers: [tfl.layers.conv2d({ filters: 2, kernelSize: 3, inputShape: [5, 5, 1], name: 'conv' })] });
    expect(() => getPeftModel(conv, createLoraConfig({ targetModules: ['conv'], initLoraWeights: 'pissa' }))).toThrow(/linear layers/);
    disposeWeights(conv);
  });
});
