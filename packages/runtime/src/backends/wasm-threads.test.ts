import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers';

import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { runOn, seededTensor, worstError } from '../__fixtures__/parity';
import { formatBackendReport } from '../backend-report';
import type { BackendReport } from '../backend-report';
import { initBackend } from '../init-backend';
import { createFusedAdam } from '../optimizers/fused-adam-optimizer';

// Vitest runs each file in its own process, so the wasm backend starts here, multi-threaded.
let report: BackendReport;
beforeAll(async () => {
  report = await initBackend({ backend: 'wasm', wasmThreads: 2 });
});

describe('multi-threaded wasm in Node (wasmThreads: 2)', () => {
  it('starts XNNPACK on 2 threads and says so', () => {
    expect(report.wasmThreads).toEqual({ threads: 2 });
    expect(formatBackendReport(report)).toMatch(/, wasm threads: 2$/);
    expect((tf.backend() as unknown as { wasm: { wasmMemory: WebAssembly.Memory } }).wasm.wasmMemory.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it('computes what cpu computes, with the runtime fixes and native kernels on a shared heap', async () => {
    const compute = () => {
      const a = seededTensor([96, 130], 1);
      const b = seededTensor([130, 70], 2);
      const weights = seededTensor([96, 70], 3);
      const product = tf.fused.matMul({ a, b, bias: seededTensor([70], 4), activation: 'relu' });
      const [da, db] = tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, z), weights)))([a, b]);
      return [product, da, db, tf.sqrt(tf.abs(a)), tf.conv2d(seededTensor([2, 9, 9, 3], 5) as tf.Tensor4D, seededTensor([3, 3, 3, 4], 6) as tf.Tensor4D, 1, 'same')];
    };
    const wasm = await runOn('wasm', compute);
    const cpu = await runOn('cpu', compute);
    await tf.setBackend('wasm');
    wasm.values.forEach((values, index) => expect(worstError(values, cpu.values[index], 1e-4)).toBeLessThanOrEqual(1));
    expect(wasm.leakedBuffers).toBe(0);
  });

  it('trains: a few fused-Adam steps lower the loss, with no leaks', async () => {
    const before = tf.memory().numTensors;
    const w = tf.tidy(() => tf.variable(seededTensor([64, 32], 7)));
    const x = seededTensor([128, 64], 8);
    const y = seededTensor([128, 32], 9);
    const optimizer = createFusedAdam({ learningRate: 0.05 });
    const losses: number[] = [];
    for (let step = 0; step < 5; step++) {
      const loss = optimizer.minimize(() => tf.losses.meanSquaredError(y, tf.matMul(x, w)) as tf.Scalar, true)!;
      losses.push((await loss.data())[0]);
      loss.dispose();
    }
    expect(losses[4]).toBeLessThan(losses[0]);
    optimizer.dispose();
    tf.dispose([w, x, y]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('survives heap growth (the shared memory grows; views are refreshed)', async () => {
    const big = tf.tidy(() => tf.matMul(seededTensor([1024, 64], 10), seededTensor([64, 2048], 11))); // 8 MiB
    const sum = tf.sum(big);
    expect(Number.isFinite((await sum.data())[0])).toBe(true);
    tf.dispose([big, sum]);
  });
});
