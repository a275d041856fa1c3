/**
 * The wasm fixes of @peftjs/runtime, measured on whole training steps.
 *
 * - MLP: 4 × Dense(512→512, bias), ReLU between, batch 64, MSE loss, Adam, written with tfjs-core
 *   ops (`matMul` → `BatchMatMul`). Stock wasm vs the BatchMatMul gradient fix alone vs the kernel
 *   fix alone vs all fixes (with and without the memory-sharing Identity), and cpu for reference.
 * - The same MLP as a tfjs-layers model: hidden Dense layers with a ReLU train through
 *   `BatchMatMul`, the linear output layer through `tf.fused.matMul`, whose gradient only the
 *   kernel fix reaches.
 * - LoRA: the MLP's four weights frozen, rank-8 adapters trained (what peftjs does).
 * - Embedding + Conv2D + Dense (tfjs-layers): does not run on stock wasm at all
 *   (UnsortedSegmentSum, Conv2DBackpropFilter); fixed wasm only.
 *
 * Every comparison is interleaved (one run of each variant per round) in this one process.
 */
import '@tensorflow/tfjs-backend-cpu';

import type { WasmFixName } from '@peftjs/runtime';
import { initBackend, registerWasmFixes, unregisterWasmFixes, WasmFix } from '@peftjs/runtime';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import { Bench, runMain } from './harness';

const width = 512;
const depth = 4;
const batch = 64;

const allFixes = () => {
  registerWasmFixes();
};
const noFixes = () => {
  unregisterWasmFixes();
};
const only =
  (...fixes: WasmFixName[]) =>
  () => {
    unregisterWasmFixes();
    registerWasmFixes({ fixes });
  };
const allBut = (fix: WasmFixName) => () => {
  registerWasmFixes();
  unregisterWasmFixes({ fixes: [fix] });
};

/** Random inputs and targets, made on the current backend. */
function batchData() {
  return { x: tf.randomNormal([batch, width], 0, 1, 'float32', 1), y: tf.randomNormal([batch, width], 0, 1, 'float32', 2) };
}

/** A training step of the tfjs-core MLP (its own variables and Adam state). */
function coreMlpStep(): () => void {
  const { x, y } = batchData();
  const weights = Array.from({ length: depth }, (_, layer) => tf.variable(tf.randomNormal([width, width], 0, Math.sqrt(2 / width), 'float32', 10 + layer)));
  const biases = Array.from({ length: depth }, () => tf.variable(tf.zeros([width])));
  const optimizer = tf.train.adam(1e-3);
  return () => {
    const loss = optimizer.minimize(() => {
      let h: tf.Tensor = x;
      for (let layer = 0; layer < depth; layer++) {
        h = tf.add(tf.matMul(h, weights[layer]), biases[layer]);
        if (layer < depth - 1) {
          h = tf.relu(h);
        }
      }
      return tf.losses.meanSquaredError(y, h) as tf.Scalar;
    }, true);
    loss?.dataSync();
    loss?.dispose();
  };
}

/** A training step of the same MLP as a tfjs-layers model. */
function layersMlpStep(): () => void {
  const { x, y } = batchData();
  const model = tfl.sequential({
    layers: Array.from({ length: depth }, (_, layer) =>
      tfl.layers.dense({ units: width, inputShape: layer === 0 ? [width] : undefined, activation: layer < depth - 1 ? 'relu' : 'linear' }),
    ),
  });
  const optimizer = tf.train.adam(1e-3);
  return () => {
    const loss = optimizer.minimize(() => tf.losses.meanSquaredError(y, model.apply(x) as tf.Tensor) as tf.Scalar, true);
    loss?.dataSync();
    loss?.dispose();
  };
}

/** A LoRA step: frozen base weights, rank-8 adapters (A: Gaussian, B: zeros) trained with Adam. */
function loraMlpStep(rank = 8): () => void {
  const { x, y } = batchData();
  const base = Array.from({ length: depth }, (_, layer) => tf.randomNormal([width, width], 0, Math.sqrt(2 / width), 'float32', 20 + layer));
  const biases = Array.from({ length: depth }, () => tf.zeros([width]));
  const loraA = Array.from({ length: depth }, (_, layer) => tf.variable(tf.randomNormal([width, rank], 0, 0.02, 'float32', 30 + layer)));
  const loraB = Array.from({ length: depth }, () => tf.variable(tf.zeros([rank, width])));
  const scale = tf.scalar(16 / rank);
  const optimizer = tf.train.adam(1e-3);
  return () => {
    const loss = optimizer.minimize(
      () => {
        let h: tf.Tensor = x;
        for (let layer = 0; layer < depth; layer++) {
          const adapter = tf.mul(tf.matMul(tf.matMul(h, loraA[layer]), loraB[layer]), scale);
          h = tf.add(tf.fused.matMul({ a: h as tf.Tensor2D, b: base[layer] as tf.Tensor2D, bias: biases[layer] }), adapter);
          if (layer < depth - 1) {
            h = tf.relu(h);
          }
        }
        return tf.losses.meanSquaredError(y, h) as tf.Scalar;
      },
      true,
      [...loraA, ...loraB],
    );
    loss?.dataSync();
    loss?.dispose();
  };
}

/** Embedding(2000, 32) → Conv2D(16, 3×3) → Dense: a training step through model.trainOnBatch. */
function embeddingConvStep(): () => Promise<void> {
  const sequence = 32;
  const model = tfl.sequential({
    layers: [
      tfl.layers.embedding({ inputDim: 2000, outputDim: 32, inputLength: sequence }),
      tfl.layers.reshape({ targetShape: [sequence, 32, 1] }),
      tfl.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  const x = tf.floor(tf.randomUniform([batch, sequence], 0, 2000, 'float32', 3));
  const y = tf.oneHot(tf.cast(tf.floor(tf.randomUniform([batch], 0, 10, 'float32', 4)), 'int32') as tf.Tensor1D, 10);
  return async () => {
    await model.trainOnBatch(x, y);
  };
}

await runMain(async () => {
  const report = await initBackend({ backend: 'wasm' });
  const bench = new Bench('wasm-fixes', 'training steps on wasm: stock vs the @peftjs/runtime fixes');

  // --- tfjs-core MLP ------------------------------------------------------------------------------
  await bench.interleaved([
    { name: 'mlp step, wasm stock', run: coreMlpStep(), prepare: noFixes },
    { name: 'mlp step, wasm + BatchMatMul gradient fix', run: coreMlpStep(), prepare: only(WasmFix.batchMatMulGrad) },
    { name: 'mlp step, wasm + BatchMatMul kernel fix', run: coreMlpStep(), prepare: only(WasmFix.batchMatMulKernel) },
    { name: 'mlp step, wasm + all fixes but identity-share', run: coreMlpStep(), prepare: allBut(WasmFix.identityShare) },
    { name: 'mlp step, wasm + all fixes', run: coreMlpStep(), prepare: allFixes },
  ]);
  bench.compare('mlp: gradient fix vs stock', 'mlp step, wasm stock', 'mlp step, wasm + BatchMatMul gradient fix');
  bench.compare('mlp: kernel fix vs stock', 'mlp step, wasm stock', 'mlp step, wasm + BatchMatMul kernel fix');
  bench.compare('mlp: all fixes vs stock', 'mlp step, wasm stock', 'mlp step, wasm + all fixes');
  bench.compare('mlp: identity-share on top of the rest', 'mlp step, wasm + all fixes but identity-share', 'mlp step, wasm + all fixes');

  // --- tfjs-layers MLP (fused matMul on the linear layer) -----------------------------------------
  await bench.interleaved([
    { name: 'layers mlp step, wasm stock', run: layersMlpStep(), prepare: noFixes },
    { name: 'layers mlp step, wasm + BatchMatMul gradient fix', run: layersMlpStep(), prepare: only(WasmFix.batchMatMulGrad) },
    { name: 'layers mlp step, wasm + all fixes', run: layersMlpStep(), prepare: allFixes },
  ]);
  bench.compare('layers mlp: gradient fix vs stock', 'layers mlp step, wasm stock', 'layers mlp step, wasm + BatchMatMul gradient fix');
  bench.compare('layers mlp: all fixes vs stock', 'layers mlp step, wasm stock', 'layers mlp step, wasm + all fixes');

  // --- LoRA on the MLP ------------------------------------------------------------------------------
  await bench.interleaved([
    { name: 'lora r=8 step, wasm stock', run: loraMlpStep(), prepare: noFixes },
    { name: 'lora r=8 step, wasm + all fixes', run: loraMlpStep(), prepare: allFixes },
  ]);
  bench.compare('lora: all fixes vs stock', 'lora r=8 step, wasm stock', 'lora r=8 step, wasm + all fixes');

  // --- Embedding + Conv2D model: needs the fixes on wasm ------------------------------------------
  allFixes();
  await bench.case('embedding+conv step, wasm + all fixes', embeddingConvStep(), { repetitions: 10 });

  // --- cpu reference (slow: few runs) ---------------------------------------------------------------
  await tf.setBackend('cpu');
  // (The embedding+conv step is not run on cpu: cpu's UnsortedSegmentSum loops once per vocabulary
  // row over the whole gradient, ~45 s a step here. The runtime tests check its losses against cpu.)
  await bench.case('mlp step, cpu', coreMlpStep(), { warmup: 1, repetitions: 3, budgetMs: 5000 });
  bench.compare('mlp: wasm + all fixes vs cpu', 'mlp step, cpu', 'mlp step, wasm + all fixes');
  bench.compare('mlp: wasm stock vs cpu', 'mlp step, cpu', 'mlp step, wasm stock');

  await tf.setBackend('wasm');
  bench.finish({ runtime: report });
});
