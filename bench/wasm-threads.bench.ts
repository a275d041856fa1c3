/**
 * Opt-in multi-threaded wasm in Node (@peftjs/runtime `wasmThreads`): the same work with XNNPACK on
 * 1 and on 2 threads. The thread count is fixed when the wasm backend starts, so each count runs in
 * its own child process (this file again, with BENCH_WASM_THREADS set); the parent prints the ratio.
 * Native kernels are off (they have their own threads: `initBackend({ threads })`), so the products
 * run on XNNPACK through runtime's fixes.
 *
 * Cases: matMul 256×512·512×512, elementwise add and sqrt on 512×512, a LoRA r=8 step and a full
 * step of the 4 × Dense(512) MLP (batch 64, Adam).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { getPeftModel, registerTuner, setWarningHandler } from '@peftjs/core';
import { createLoraConfig, lora } from '@peftjs/lora';
import { initBackend } from '@peftjs/runtime';

import { Bench, runMain } from './harness';

const here = dirname(fileURLToPath(import.meta.url));
const childThreads = process.env.BENCH_WASM_THREADS;

async function child(threads: number): Promise<void> {
  setWarningHandler(() => {});
  registerTuner(lora);
  const report = await initBackend({ backend: 'wasm', wasmThreads: threads, native: false });
  const bench = new Bench(`wasm-threads.${threads}`, `wasm with XNNPACK on ${report.wasmThreads?.threads} thread(s)`);
  const a = tf.randomNormal([256, 512]);
  const b = tf.randomNormal([512, 512]);
  const timed = (f: () => tf.Tensor) => () => {
    const out = f();
    out.dataSync();
    out.dispose();
  };
  const mlp = () =>
    tfl.sequential({
      layers: [0, 1, 2, 3].map((index) =>
        tfl.layers.dense({ units: 512, activation: index < 3 ? 'relu' : 'linear', name: `dense${index}`, ...(index === 0 ? { inputShape: [512] } : {}) }),
      ),
    });
  const x = tf.randomNormal([64, 512]);
  const y = tf.randomNormal([64, 512]);
  const step = (model: tfl.LayersModel) => {
    const optimizer = tf.train.adam(1e-3);
    return () => {
      const loss = optimizer.minimize(() => tf.losses.meanSquaredError(y, model.apply(x) as tf.Tensor) as tf.Scalar, true)!;
      loss.dataSync();
      loss.dispose();
    };
  };
  const peft = getPeftModel(mlp(), createLoraConfig({ r: 8, loraAlpha: 16, targetModules: ['dense0', 'dense1', 'dense2', 'dense3'] }));
  await bench.interleaved([
    { name: 'matMul 256×512·512×512', run: timed(() => tf.matMul(a, b)), repetitions: 20 },
    { name: 'add 512×512', run: timed(() => tf.add(b, b)), repetitions: 20 },
    { name: 'sqrt 512×512', run: timed(() => tf.sqrt(tf.abs(b))), repetitions: 20 },
    { name: 'LoRA r=8 step (MLP)', run: step(peft.model), repetitions: 20 },
    { name: 'full step (MLP)', run: step(mlp()), repetitions: 20 },
  ]);
  bench.finish({ runtime: report });
}

await runMain(async () => {
  if (childThreads !== undefined) {
    await child(Number(childThreads));
    return;
  }
  const tsx = join(here, '..', 'node_modules', '.bin', 'tsx');
  const results: Record<string, { name: string; medianMs: number }[]> = {};
  for (const threads of [1, 2]) {
    const run = spawnSync(tsx, ['--tsconfig', join(here, '..', 'tsconfig.json'), fileURLToPath(import.meta.url)], {
      env: { ...process.env, BENCH_WASM_THREADS: String(threads) },
      stdio: 'inherit',
    });
    if (run.status !== 0) {
      throw new Error(`the ${threads}-thread child failed (${run.status ?? run.signal})`);
    }
    results[threads] = (JSON.parse(readFileSync(join(here, 'results', `wasm-threads.${threads}.json`), 'utf8')) as { cases: { name: string; medianMs: number }[] }).cases;
  }
  const rows = results[1].map((one) => {
    const two = results[2].find((entry) => entry.name === one.name)!;
    return {
      case: one.name,
      '1 thread ms': Math.round(one.medianMs * 100) / 100,
      '2 threads ms': Math.round(two.medianMs * 100) / 100,
      speedup: `${(one.medianMs / two.medianMs).toFixed(2)}x`,
    };
  });
  console.log('\n# wasm-threads: 1 vs 2 XNNPACK threads (separate processes, run one after the other)\n');
  console.table(rows);
  const bench = new Bench('wasm-threads', 'opt-in multi-threaded wasm in Node: 1 vs 2 XNNPACK threads');
  bench.finish({ rows, note: 'measured in two child processes (bench/results/wasm-threads.1.json, wasm-threads.2.json)' });
});
