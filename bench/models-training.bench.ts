/**
 * @peftjs/models + @peftjs/lora: one training step of a small LLaMA (hidden 256, 4 layers,
 * vocabulary 1000; batch 4 × 64 tokens, Adam, causal-LM loss), full fine-tuning vs LoRA
 * (r = 8 on q_proj, v_proj). wasm backend with @peftjs/runtime's fixes (embedding gradients
 * need its UnsortedSegmentSum). Goal: a LoRA step at most 0.6 × a full step.
 */
import '@tensorflow/tfjs-backend-cpu';

import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { getPeftModel, registerTuner, setWarningHandler } from '@peftjs/core';
import { createLoraConfig, lora } from '@peftjs/lora';
import { AutoModelForCausalLM, causalLmLoss } from '@peftjs/models';
import { initBackend } from '@peftjs/runtime';

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
  const bench = new Bench('models-training', `LLaMA hidden 256 × 4 layers, batch ${BATCH} × ${SEQ}: full vs LoRA training step`);
  const ids = tf.tensor2d(
    Array.from({ length: BATCH }, (_, row) => Array.from({ length: SEQ }, (_, index) => (row * 131 + index * 37 + 11) % config.vocab_size)),
    [BATCH, SEQ],
    'int32',
  );
  const mask = tf.ones([BATCH, SEQ]);

  const stepper = (model: LayersModel) => {
    const optimizer = tf.train.adam(1e-3);
    return async () => {
      const loss = optimizer.minimize(() => causalLmLoss(ids, model.apply([ids, mask], { training: true }) as tf.Tensor), true)!;
      await loss.data();
      loss.dispose();
    };
  };
  const full = AutoModelForCausalLM.fromConfig(config, { seed: 1 });
  const base = AutoModelForCausalLM.fromConfig(config, { seed: 1 });
  const peft = getPeftModel(base, createLoraConfig({ r: 8, loraAlpha: 16, targetModules: ['q_proj', 'v_proj'] }));
  const [,] = await bench.interleaved([
    { name: 'full fine-tuning step', run: stepper(full), note: `${full.countParams()} trainable parameters`, repetitions: 10 },
    { name: 'LoRA step (r=8, q_proj + v_proj)', run: stepper(peft.model), note: peft.trainableParametersReport(), repetitions: 10 },
  ]);
  const comparison = bench.compare('LoRA step time / full step time (inverse)', 'full fine-tuning step', 'LoRA step (r=8, q_proj + v_proj)');
  bench.finish({ loraOverFull: Math.round((1 / comparison.speedup) * 100) / 100, config, batch: BATCH, seq: SEQ });
});
