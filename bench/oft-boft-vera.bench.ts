/**
 * @peftjs/oft, @peftjs/boft, @peftjs/vera next to LoRA: one training step of 4 × Dense 512→512
 * (bias, ReLU between; batch 64, MSE, Adam) and one unmerged inference pass, on wasm. OFT and
 * BOFT rebuild their rotations (Cayley transforms: a Gauss-Jordan inverse per block) on every
 * forward, which is what this measures against LoRA's two thin products.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { getPeftModel, registerTuner, setWarningHandler } from '@peftjs/core';
import { lora } from '@peftjs/lora';
import { oft } from '@peftjs/oft';
import { boft } from '@peftjs/boft';
import { vera } from '@peftjs/vera';
import { initBackend } from '@peftjs/runtime';

import { Bench, runMain } from './harness';

const WIDTH = 512;
const LAYERS = 4;
const BATCH = 64;
const TARGETS = Array.from({ length: LAYERS }, (_, index) => `dense${index}`);

function mlp(seed: number): tfl.LayersModel {
  return tfl.sequential({
    layers: Array.from({ length: LAYERS }, (_, index) =>
      tfl.layers.dense({
        units: WIDTH,
        activation: index < LAYERS - 1 ? 'relu' : 'linear',
        name: `dense${index}`,
        kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + index }),
        ...(index === 0 ? { inputShape: [WIDTH] } : {}),
      }),
    ),
  });
}

const METHODS: Array<{ name: string; config: Record<string, unknown> }> = [
  { name: 'LoRA r=8', config: { peft_type: 'LORA', r: 8, lora_alpha: 16, target_modules: TARGETS } },
  { name: 'OFT r=8 (blocks of 64)', config: { peft_type: 'OFT', r: 8, target_modules: TARGETS } },
  { name: 'OFT r=32 (blocks of 16)', config: { peft_type: 'OFT', r: 32, target_modules: TARGETS } },
  { name: 'BOFT block 8, factor 1', config: { peft_type: 'BOFT', boft_block_size: 8, target_modules: TARGETS } },
  { name: 'BOFT block 8, factor 2', config: { peft_type: 'BOFT', boft_block_size: 8, boft_n_butterfly_factor: 2, target_modules: TARGETS } },
  { name: 'VeRA r=256', config: { peft_type: 'VERA', r: 256, target_modules: TARGETS } },
];

await runMain(async () => {
  setWarningHandler(() => {});
  for (const tuner of [lora, oft, boft, vera]) registerTuner(tuner);
  const bench = new Bench('oft-boft-vera', `${LAYERS} × Dense ${WIDTH}→${WIDTH}, batch ${BATCH}, wasm: training step and unmerged inference, OFT / BOFT / VeRA vs LoRA`);
  await initBackend({ backend: 'wasm' });
  await tf.ready();
  const x = tf.randomNormal([BATCH, WIDTH], 0, 1, 'float32', 1);
  const y = tf.randomNormal([BATCH, WIDTH], 0, 1, 'float32', 2);
  const models = METHODS.map(({ name, config }) => ({ name, peft: getPeftModel(mlp(10), config) }));
  const step = (model: tfl.LayersModel) => {
    const optimizer = tf.train.adam(1e-3);
    return async () => {
      const loss = optimizer.minimize(() => tf.losses.meanSquaredError(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true)!;
      await loss.data();
      loss.dispose();
    };
  };
  const infer = (model: tfl.LayersModel) => async () => {
    const output = model.predict(x) as tf.Tensor;
    await output.data();
    output.dispose();
  };
  await bench.interleaved(
    models.map(({ name, peft }) => ({ name: `training step, ${name}`, run: step(peft.model), warmup: 3, repetitions: 20, note: peft.trainableParametersReport() })),
  );
  await bench.interleaved(models.map(({ name, peft }) => ({ name: `inference, ${name}`, run: infer(peft.model), warmup: 3, repetitions: 30 })));
  const extra: Record<string, unknown> = { width: WIDTH, layers: LAYERS, batch: BATCH };
  for (const { name } of models.slice(1)) {
    // baseline = the method, candidate = LoRA: the "speedup" is the method's time over LoRA's.
    extra[`${name}: step time over LoRA`] =
      Math.round(bench.compare(`training, ${name} time over LoRA`, `training step, ${name}`, `training step, ${METHODS[0]!.name}`).speedup * 100) / 100;
  }
  bench.finish(extra);
});
