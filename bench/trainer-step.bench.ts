/**
 * @peftjs/trainer: one optimizer step of a small LLaMA with LoRA (hidden 256, 4 layers, vocabulary
 * 1000; batch 4 × 64 tokens, r = 8 on q_proj, v_proj), the engine's step (float32 AdamW in torch's
 * order on the CPU side, gradient norm, clipping, the log entry) vs a bare tfjs Adam step
 * (`optimizer.minimize`, what the CLI ran before the engine). wasm backend with @peftjs/runtime's
 * fixes. Goal: the engine's bookkeeping costs little next to the forward and backward pass.
 */
import '@tensorflow/tfjs-backend-cpu';

import * as tf from '@tensorflow/tfjs-core';
import { getPeftModel, registerTuner, setWarningHandler } from '@peftjs/core';
import { createLoraConfig, lora } from '@peftjs/lora';
import { AutoModelForCausalLM, causalLmLoss } from '@peftjs/models';
import { initBackend } from '@peftjs/runtime';
import { Trainer } from '@peftjs/trainer';

import { Bench, runMain } from './harness';

const config = {
  model_type: 'llama',
  hidden_size: 256,
  intermediate_size: 688,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  num_key_value_heads: 4,
  vocab_size: 1000,
  max_position_embeddings: 1024,
};
const BATCH = 4;
const SEQ = 64;

await runMain(async () => {
  await initBackend({ backend: 'wasm' });
  setWarningHandler(() => {});
  registerTuner(lora);
  const bench = new Bench('trainer-step', `LLaMA hidden 256 × 4 layers + LoRA r=8, batch ${BATCH} × ${SEQ}: the engine's step vs a bare tfjs Adam step`);
  const rows = Array.from({ length: BATCH }, (_, row) => Array.from({ length: SEQ }, (_, index) => (row * 131 + index * 37 + 11) % config.vocab_size));

  const bareBase = AutoModelForCausalLM.fromConfig(config, { seed: 1 });
  const bare = getPeftModel(bareBase, createLoraConfig({ r: 8, loraAlpha: 16, targetModules: ['q_proj', 'v_proj'] }));
  const ids = tf.tensor2d(rows, [BATCH, SEQ], 'int32');
  const mask = tf.ones([BATCH, SEQ]);
  const optimizer = tf.train.adam(1e-3);
  const bareStep = async () => {
    const loss = optimizer.minimize(() => causalLmLoss(ids, bare.model.apply([ids, mask], { training: true }) as tf.Tensor), true)!;
    await loss.data();
    loss.dispose();
  };

  const engineBase = AutoModelForCausalLM.fromConfig(config, { seed: 1 });
  const engineModel = getPeftModel(engineBase, createLoraConfig({ r: 8, loraAlpha: 16, targetModules: ['q_proj', 'v_proj'] }));
  let stepsLeft = 0;
  const trainer = new Trainer({
    peftModel: engineModel,
    args: { learningRate: 1e-3, weightDecay: 0.01, maxSteps: 1_000_000, perDeviceTrainBatchSize: BATCH, shuffle: false, maxGradNorm: 1 },
    trainDataset: rows.map((inputIds) => ({ inputIds })),
    callbacks: { onStep: () => void stepsLeft--, shouldStop: () => stepsLeft <= 0 },
  });
  const engineStep = async () => {
    stepsLeft = 1;
    await trainer.train();
  };

  await bench.interleaved([
    { name: 'bare tfjs Adam step', run: bareStep, note: bare.trainableParametersReport(), repetitions: 10 },
    { name: 'engine step (AdamW, clipping, log)', run: engineStep, note: engineModel.trainableParametersReport(), repetitions: 10 },
  ]);
  const comparison = bench.compare('engine step time / bare step time (inverse)', 'bare tfjs Adam step', 'engine step (AdamW, clipping, log)');
  bench.finish({ engineOverBare: Math.round((1 / comparison.speedup) * 100) / 100, config, batch: BATCH, seq: SEQ });
});
