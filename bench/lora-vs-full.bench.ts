/**
 * @peftjs/lora: one training step of 4 × Dense 512→512 (bias, ReLU between; batch 64, MSE, Adam),
 * full fine-tuning vs LoRA r = 8 on all four layers; then inference: base vs LoRA unmerged vs
 * LoRA merged. wasm (with @peftjs/runtime's fixes) for ≥ 50 timed steps, then cpu with fewer.
 */
import '@tensorflow/tfjs-backend-cpu';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { getPeftModel, registerTuner, setWarningHandler } from '@peftjs/core';
import { createLoraConfig, lora } from '@peftjs/lora';
import { initBackend } from '@peftjs/runtime';

import { Bench, runMain } from './harness';

const WIDTH = 512;
const LAYERS = 4;
const BATCH = 64;
const RANK = 8;

function mlp(seed: number): tfl.LayersModel {
  return tfl.sequential({
    layers: Array.from({ length: LAYERS }, (_, index) =>
      tfl.layers.dense({
        units: WIDTH,
        useBias: true,
        activation: index < LAYERS - 1 ? 'relu' : 'linear',
        name: `dense${index}`,
        kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + index }),
        ...(index === 0 ? { inputShape: [WIDTH] } : {}),
      }),
    ),
  });
}

await runMain(async () => {
  setWarningHandler(() => {});
  registerTuner(lora);
  const bench = new Bench(
    'lora-vs-full',
    `${LAYERS} × Dense ${WIDTH}→${WIDTH} (ReLU), batch ${BATCH}, MSE + Adam: full vs LoRA r=${RANK} training step; inference base vs unmerged vs merged`,
  );
  const extra: Record<string, unknown> = { width: WIDTH, layers: LAYERS, batch: BATCH, rank: RANK };

  for (const backend of ['wasm', 'cpu'] as const) {
    if (backend === 'wasm') await initBackend({ backend: 'wasm' });
    else await tf.setBackend('cpu');
    await tf.ready();
    const steps = backend === 'wasm' ? 50 : 12;
    const x = tf.randomNormal([BATCH, WIDTH], 0, 1, 'float32', 1);
    const y = tf.randomNormal([BATCH, WIDTH], 0, 1, 'float32', 2);

    const full = mlp(10);
    const peft = getPeftModel(mlp(10), createLoraConfig({ r: RANK, loraAlpha: 2 * RANK, targetModules: Array.from({ length: LAYERS }, (_, index) => `dense${index}`) }));
    const stepper = (model: tfl.LayersModel) => {
      const optimizer = tf.train.adam(1e-3);
      return async () => {
        const loss = optimizer.minimize(() => tf.losses.meanSquaredError(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true)!;
        await loss.data();
        loss.dispose();
      };
    };
    const fullName = `${backend}: full fine-tuning step`;
    const loraName = `${backend}: LoRA step (r=${RANK}, all 4 layers)`;
    await bench.interleaved([
      { name: fullName, run: stepper(full), warmup: 5, repetitions: steps, note: `${full.countParams()} trainable parameters` },
      { name: loraName, run: stepper(peft.model), warmup: 5, repetitions: steps, note: peft.trainableParametersReport() },
    ]);
    const training = bench.compare(`${backend}: LoRA step speedup over full`, fullName, loraName);

    // Inference: the plain model, LoRA unmerged, LoRA merged (same wrappers, adapter folded in).
    const base = mlp(20);
    const unmerged = getPeftModel(mlp(20), createLoraConfig({ r: RANK, targetModules: ['dense0', 'dense1', 'dense2', 'dense3'], initLoraWeights: false }));
    const merged = getPeftModel(mlp(20), createLoraConfig({ r: RANK, targetModules: ['dense0', 'dense1', 'dense2', 'dense3'], initLoraWeights: false }));
    await merged.mergeAdapter();
    const infer = (model: tfl.LayersModel) => async () => {
      const output = model.predict(x) as tf.Tensor;
      await output.data();
      output.dispose();
    };
    const baseName = `${backend}: inference, base model`;
    const unmergedName = `${backend}: inference, LoRA unmerged`;
    const mergedName = `${backend}: inference, LoRA merged`;
    await bench.interleaved([
      { name: baseName, run: infer(base), warmup: 5, repetitions: steps },
      { name: unmergedName, run: infer(unmerged.model), warmup: 5, repetitions: steps },
      { name: mergedName, run: infer(merged.model), warmup: 5, repetitions: steps },
    ]);
    const unmergedRatio = bench.compare(`${backend}: base speed relative to LoRA unmerged`, unmergedName, baseName);
    const mergedRatio = bench.compare(`${backend}: base speed relative to LoRA merged`, mergedName, baseName);
    extra[backend] = {
      loraStepOverFullStep: Math.round((1 / training.speedup) * 100) / 100,
      unmergedOverBase: Math.round(unmergedRatio.speedup * 100) / 100,
      mergedOverBase: Math.round(mergedRatio.speedup * 100) / 100,
    };
    for (const model of [full, peft.model, base, unmerged.model, merged.model]) for (const weight of model.weights) if (!weight.read().isDisposed) weight.dispose();
    tf.dispose([x, y]);
  }
  bench.finish(extra);
});
