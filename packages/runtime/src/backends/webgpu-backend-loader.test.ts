import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';

import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';

import { seededTensor, worstError } from '../__fixtures__/parity';
import type { BackendReport } from '../backend-report';
import { formatBackendReport } from '../backend-report';
import { initBackend } from '../init-backend';

// The webgpu path needs the `webgpu` package (Dawn) and a Vulkan driver. Without a GPU, Mesa's
// lavapipe (≥ 25; Debian bookworm-backports: mesa-vulkan-drivers) gives a software adapter.
let report: BackendReport | undefined;
let skipReason = '';
try {
  report = await initBackend({ backend: 'webgpu' });
} catch (error) {
  skipReason = error instanceof Error ? error.message : String(error);
  console.warn(`webgpu tests skipped: ${skipReason}`);
}

/** Runs `compute` on `backend` and reads every result asynchronously (WebGPU refuses sync reads). */
async function valuesOn(backend: 'webgpu' | 'cpu', compute: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const results = tf.tidy(compute);
  const values = await Promise.all(results.map(async (result) => Float32Array.from(await result.data())));
  tf.dispose(results);
  return values;
}

describe.runIf(report !== undefined)('the webgpu backend (Dawn through the webgpu package)', () => {
  it('reports the adapter it created and checked', () => {
    expect(report).toMatchObject({ backend: 'webgpu', packageName: '@tensorflow/tfjs-backend-webgpu', version: '4.22.0', fixes: [] });
    expect(report!.adapter!.description).not.toBe('');
    expect(report!.gpu).toBe(!report!.adapter!.fallback);
    expect(formatBackendReport(report!)).toMatch(/^tfjs backend: webgpu \(@tensorflow\/tfjs-backend-webgpu 4\.22\.0\), (no )?GPU, no fixes, adapter: /);
    expect(tf.getBackend()).toBe('webgpu');
  });

  it('computes products, a fused Dense layer and their gradients as cpu does', async () => {
    const compute = () => {
      const x = seededTensor([32, 48], 1);
      const w = seededTensor([48, 24], 2);
      const bias = seededTensor([24], 3);
      const weights = seededTensor([32, 24], 4);
      const y = tf.fused.matMul({ a: x, b: w, bias, activation: 'relu' });
      const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.matMul(a, b), weights)))([x, w]);
      return [y, dx, dw, tf.matMul(x, w, false, false), tf.matMul(seededTensor([3, 8, 16], 5), seededTensor([3, 8, 16], 6), false, true)];
    };
    const gpu = await valuesOn('webgpu', compute);
    const cpu = await valuesOn('cpu', compute);
    await tf.setBackend('webgpu');
    gpu.forEach((values, index) => expect(worstError(values, cpu[index], 1e-4)).toBeLessThanOrEqual(1));
  });

  it('trains a LoRA-style layer: Adam steps lower the loss, as on cpu', async () => {
    const run = async (backend: 'webgpu' | 'cpu') => {
      await tf.setBackend(backend);
      const before = tf.memory().numTensors;
      const base = seededTensor([16, 16], 7);
      const a = tf.tidy(() => tf.variable(seededTensor([16, 4], 8, 0.1)));
      const b = tf.tidy(() => tf.variable(tf.zeros([4, 16])));
      const x = seededTensor([8, 16], 9);
      const y = seededTensor([8, 16], 10);
      const optimizer = tf.train.adam(0.05);
      const losses: number[] = [];
      for (let step = 0; step < 4; step++) {
        const loss = optimizer.minimize(() => tf.losses.meanSquaredError(y, tf.add(tf.matMul(x, base), tf.matMul(tf.matMul(x, a), b))) as tf.Scalar, true, [a, b])!;
        losses.push((await loss.data())[0]);
        loss.dispose();
      }
      optimizer.dispose();
      tf.dispose([base, a, b, x, y]);
      expect(tf.memory().numTensors).toBe(before);
      return losses;
    };
    const gpu = await run('webgpu');
    const cpu = await run('cpu');
    await tf.setBackend('webgpu');
    expect(gpu[3]).toBeLessThan(gpu[0]);
    expect(worstError(gpu, cpu, 1e-4)).toBeLessThanOrEqual(1);
  });

  it('is passed over for a software adapter in automatic selection (wasm is faster on the same CPU)', async () => {
    if (!report!.adapter!.fallback) {
      return; // a hardware adapter: automatic selection takes it
    }
    const auto = await initBackend({ env: {} });
    expect(auto.backend).toBe('wasm');
    await initBackend({ backend: 'webgpu' });
    expect(tf.getBackend()).toBe('webgpu');
  });
});

describe('the webgpu loader without a usable adapter', () => {
  it('says why it is unavailable, and automatic selection goes on to wasm', async () => {
    if (report !== undefined) {
      return; // covered above: there is an adapter here
    }
    expect(skipReason).toMatch(/webgpu/);
    const auto = await initBackend({ env: {} });
    expect(['wasm', 'tensorflow']).toContain(auto.backend);
  });
});
