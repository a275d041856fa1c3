/**
 * The wasm fixes of @peftjs/runtime, one kernel at a time: what each costs or saves.
 *
 * - BatchMatMul with a transpose flag (64×512 · 512×512): stock vs fixed.
 * - Batched BatchMatMul, attention-shaped ([16,128,64] · [16,64,128], and q·kᵀ with transposeB).
 * - UnsortedSegmentSum as an embedding gradient (8192 token ids into a 32000×256 table): the fixed
 *   wasm kernel, with the forward gather for scale; and a small case against cpu.
 * - Conv2DBackpropFilter (x [8,32,32,32], 3×3×32×32 filter, 'same'); a small case against cpu.
 * - Identity (`tf.clone` of 1024×1024): copy (stock) vs shared memory (fixed).
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-layers'; // registers the gradients

import type { WasmFixName } from '@peftjs/runtime';
import { initBackend, registerWasmFixes, unregisterWasmFixes, WasmFix } from '@peftjs/runtime';
import * as tf from '@tensorflow/tfjs-core';

import { Bench, runMain } from './harness';

const fixed = () => {
  registerWasmFixes();
};
const without = (fix: WasmFixName) => () => {
  registerWasmFixes();
  unregisterWasmFixes({ fixes: [fix] });
};

/** Runs `compute` in a tidy and waits for its result. */
function timed(compute: () => tf.Tensor | tf.Tensor[]): () => void {
  return () => {
    const out = tf.tidy(compute);
    const outputs = Array.isArray(out) ? out : [out];
    outputs[0].dataSync();
    tf.dispose(outputs);
  };
}

function embeddingGradient(vocabulary: number, dimension: number, tokens: number): () => tf.Tensor {
  const table = tf.randomNormal([vocabulary, dimension], 0, 1, 'float32', 1);
  const ids = tf.cast(tf.floor(tf.randomUniform([tokens], 0, vocabulary, 'float32', 2)), 'int32') as tf.Tensor1D;
  const upstream = tf.randomNormal([tokens, dimension], 0, 1, 'float32', 3);
  return () => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), upstream)))(table);
}

function convFilterGradient(batch: number, size: number, channels: number): () => tf.Tensor {
  const x = tf.randomNormal([batch, size, size, channels], 0, 1, 'float32', 4) as tf.Tensor4D;
  const filter = tf.randomNormal([3, 3, channels, channels], 0, 0.1, 'float32', 5) as tf.Tensor4D;
  const upstream = tf.randomNormal([batch, size, size, channels], 0, 1, 'float32', 6);
  return () => tf.grad((f: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, f as tf.Tensor4D, 1, 'same'), upstream)))(filter);
}

await runMain(async () => {
  const report = await initBackend({ backend: 'wasm' });
  const bench = new Bench('wasm-kernels', 'single kernels on wasm: stock vs the @peftjs/runtime fixes, and cpu');

  // --- BatchMatMul --------------------------------------------------------------------------------
  const a = tf.randomNormal([64, 512], 0, 1, 'float32', 7);
  const b = tf.randomNormal([512, 512], 0, 1, 'float32', 8);
  const aT = tf.transpose(a);
  await bench.interleaved([
    { name: 'matMul 64×512·512×512, wasm', run: timed(() => tf.matMul(a, b)), prepare: fixed },
    { name: 'matMul a·bᵀ, wasm stock', run: timed(() => tf.matMul(a, b, false, true)), prepare: without(WasmFix.batchMatMulKernel) },
    { name: 'matMul a·bᵀ, wasm fixed', run: timed(() => tf.matMul(a, b, false, true)), prepare: fixed },
    { name: 'matMul aᵀ·b, wasm stock', run: timed(() => tf.matMul(aT, b, true, false)), prepare: without(WasmFix.batchMatMulKernel) },
    { name: 'matMul aᵀ·b, wasm fixed', run: timed(() => tf.matMul(aT, b, true, false)), prepare: fixed },
  ]);
  bench.compare('matMul a·bᵀ: fixed vs stock', 'matMul a·bᵀ, wasm stock', 'matMul a·bᵀ, wasm fixed');
  bench.compare('matMul aᵀ·b: fixed vs stock', 'matMul aᵀ·b, wasm stock', 'matMul aᵀ·b, wasm fixed');

  const q = tf.randomNormal([16, 128, 64], 0, 1, 'float32', 9);
  const k = tf.randomNormal([16, 128, 64], 0, 1, 'float32', 10);
  const kT = tf.transpose(k, [0, 2, 1]);
  await bench.interleaved([
    { name: 'batched [16,128,64]·[16,64,128], wasm stock', run: timed(() => tf.matMul(q, kT)), prepare: without(WasmFix.batchMatMulKernel) },
    { name: 'batched [16,128,64]·[16,64,128], wasm fixed', run: timed(() => tf.matMul(q, kT)), prepare: fixed },
    { name: 'batched q·kᵀ (transposeB), wasm stock', run: timed(() => tf.matMul(q, k, false, true)), prepare: without(WasmFix.batchMatMulKernel) },
    { name: 'batched q·kᵀ (transposeB), wasm fixed', run: timed(() => tf.matMul(q, k, false, true)), prepare: fixed },
  ]);
  bench.compare('batched matMul: fixed vs stock', 'batched [16,128,64]·[16,64,128], wasm stock', 'batched [16,128,64]·[16,64,128], wasm fixed');
  bench.compare('batched q·kᵀ: fixed vs stock', 'batched q·kᵀ (transposeB), wasm stock', 'batched q·kᵀ (transposeB), wasm fixed');

  // --- UnsortedSegmentSum (embedding gradients) ---------------------------------------------------
  fixed();
  const largeGradient = embeddingGradient(32000, 256, 8192);
  const largeIds = tf.cast(tf.floor(tf.randomUniform([8192], 0, 32000, 'float32', 2)), 'int32') as tf.Tensor1D;
  const largeTable = tf.randomNormal([32000, 256], 0, 1, 'float32', 1);
  const largeUpdates = tf.randomNormal([8192, 256], 0, 1, 'float32', 11);
  await bench.case(
    'gather 8192 ids from 32000×256 (forward), wasm',
    timed(() => tf.gather(largeTable, largeIds)),
  );
  await bench.case(
    'unsortedSegmentSum 8192×256 → 32000 rows, wasm fixed',
    timed(() => tf.unsortedSegmentSum(largeUpdates, largeIds, 32000)),
  );
  await bench.case('embedding gradient 32000×256, 8192 ids, wasm fixed', timed(largeGradient));
  await bench.case('embedding gradient 200×32, 256 ids, wasm fixed', timed(embeddingGradient(200, 32, 256)));

  // --- Conv2DBackpropFilter -----------------------------------------------------------------------
  await bench.case('conv2d filter gradient [8,32,32,32] 3×3×32×32, wasm fixed', timed(convFilterGradient(8, 32, 32)));
  await bench.case('conv2d filter gradient [2,16,16,16] 3×3×16×16, wasm fixed', timed(convFilterGradient(2, 16, 16)));

  // --- Identity -----------------------------------------------------------------------------------
  const big = tf.randomNormal([1024, 1024], 0, 1, 'float32', 12);
  const clone = () => {
    tf.clone(big).dispose();
  };
  await bench.interleaved([
    { name: 'clone 1024×1024, wasm stock (copy)', run: clone, prepare: without(WasmFix.identityShare), repetitions: 50 },
    { name: 'clone 1024×1024, wasm fixed (shared)', run: clone, prepare: fixed, repetitions: 50 },
  ]);
  bench.compare('clone: shared vs copy', 'clone 1024×1024, wasm stock (copy)', 'clone 1024×1024, wasm fixed (shared)');

  // --- cpu reference (slow: few runs) -------------------------------------------------------------
  await tf.setBackend('cpu');
  // Small shapes only: cpu's UnsortedSegmentSum loops once per segment over the whole input, and
  // its filter gradient is a scalar loop (the large wasm cases above take ~15 s and ~20 s on cpu).
  await bench.case('embedding gradient 200×32, 256 ids, cpu', timed(embeddingGradient(200, 32, 256)), { warmup: 1, repetitions: 3 });
  await bench.case('conv2d filter gradient [2,16,16,16] 3×3×16×16, cpu', timed(convFilterGradient(2, 16, 16)), { warmup: 1, repetitions: 3 });
  const aCpu = tf.randomNormal([64, 512], 0, 1, 'float32', 7);
  const bCpu = tf.randomNormal([512, 512], 0, 1, 'float32', 8);
  await bench.case(
    'matMul a·bᵀ, cpu',
    timed(() => tf.matMul(aCpu, bCpu, false, true)),
    { warmup: 1, repetitions: 3 },
  );
  bench.compare('matMul a·bᵀ: wasm fixed vs cpu', 'matMul a·bᵀ, cpu', 'matMul a·bᵀ, wasm fixed');
  bench.compare('embedding gradient (small): wasm fixed vs cpu', 'embedding gradient 200×32, 256 ids, cpu', 'embedding gradient 200×32, 256 ids, wasm fixed');
  bench.compare(
    'conv2d filter gradient (small): wasm fixed vs cpu',
    'conv2d filter gradient [2,16,16,16] 3×3×16×16, cpu',
    'conv2d filter gradient [2,16,16,16] 3×3×16×16, wasm fixed',
  );

  await tf.setBackend('wasm');
  bench.finish({ runtime: report });
});
