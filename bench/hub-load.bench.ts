/**
 * @peftjs/hub + @peftjs/models: how long a ~100 MB base checkpoint and a LoRA adapter take to
 * load, and how much memory loading needs at its peak compared with one copy of the weights.
 *
 * The base is a LLaMA-shaped model (hidden 512, 6 layers, vocabulary 8000) written as a
 * transformers folder (config.json + model.safetensors). Memory is sampled every 2 ms during a
 * load (process.memoryUsage: array buffers + external, where the cpu backend keeps tensor data),
 * relative to the moment before the load.
 */
import '@tensorflow/tfjs-backend-cpu';

import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { getPeftModel, registerTuner, setWarningHandler } from '@peftjs/core';
import { fromPretrained, saveSafetensors, savePretrained, type TensorData } from '@peftjs/hub';
import { createLoraConfig, lora } from '@peftjs/lora';
import { AutoModelForCausalLM } from '@peftjs/models';

import { Bench, runMain } from './harness';

const config = {
  model_type: 'llama',
  architectures: ['LlamaForCausalLM'],
  hidden_size: 512,
  intermediate_size: 1536,
  num_hidden_layers: 6,
  num_attention_heads: 8,
  num_key_value_heads: 8,
  vocab_size: 8000,
  max_position_embeddings: 512,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  tie_word_embeddings: false,
};

function checkpoint(): Record<string, TensorData> {
  const { hidden_size: h, intermediate_size: i, vocab_size: v, num_hidden_layers: layers } = config;
  const shapes: Record<string, number[]> = { 'model.embed_tokens.weight': [v, h], 'model.norm.weight': [h], 'lm_head.weight': [v, h] };
  for (let layer = 0; layer < layers; layer++) {
    const p = `model.layers.${layer}`;
    for (const name of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) shapes[`${p}.self_attn.${name}.weight`] = [h, h];
    shapes[`${p}.mlp.gate_proj.weight`] = [i, h];
    shapes[`${p}.mlp.up_proj.weight`] = [i, h];
    shapes[`${p}.mlp.down_proj.weight`] = [h, i];
    shapes[`${p}.input_layernorm.weight`] = [h];
    shapes[`${p}.post_attention_layernorm.weight`] = [h];
  }
  let seed = 1;
  return Object.fromEntries(
    Object.entries(shapes).map(([name, shape]) => {
      const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
      for (let index = 0; index < values.length; index++) values[index] = Math.sin(seed++ * 12.9898) * 0.02;
      return [name, { dtype: 'float32', shape, values }];
    }),
  );
}

// A full collection before each measurement, so garbage from earlier loads is not counted.
setFlagsFromString('--expose_gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Runs `load` and returns the peak growth of array-buffer + external memory during it, in bytes. */
async function peakGrowth<T>(load: () => Promise<T>): Promise<{ result: T; peak: number; after: number }> {
  collectGarbage();
  const usage = () => {
    const memory = process.memoryUsage();
    return memory.arrayBuffers + memory.external;
  };
  const before = usage();
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, usage() - before);
  }, 2);
  try {
    const result = await load();
    peak = Math.max(peak, usage() - before);
    collectGarbage();
    return { result, peak, after: usage() - before };
  } finally {
    clearInterval(timer);
  }
}

const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

await runMain(async () => {
  await tf.setBackend('cpu');
  setWarningHandler(() => {});
  registerTuner(lora);
  const folder = await mkdtemp(join(tmpdir(), 'peftjs-bench-hub-load-'));
  try {
    const baseDir = join(folder, 'base');
    await saveSafetensors(join(baseDir, 'model.safetensors'), checkpoint(), { metadata: { format: 'pt' } });
    await writeFile(join(baseDir, 'config.json'), JSON.stringify(config, null, 2));
    const checkpointBytes = (await stat(join(baseDir, 'model.safetensors'))).size;

    const bench = new Bench('hub-load', `load a ${mb(checkpointBytes)} MB LLaMA-shaped checkpoint and a LoRA adapter (cpu backend)`);
    const base = await peakGrowth(() => AutoModelForCausalLM.fromPretrained(baseDir));
    let model: LayersModel | undefined;
    await bench.case(
      'base model: AutoModelForCausalLM.fromPretrained',
      async () => {
        model?.dispose();
        model = await AutoModelForCausalLM.fromPretrained(baseDir);
      },
      { warmup: 1, repetitions: 5, note: `${mb(checkpointBytes)} MB safetensors → LayersModel` },
    );
    model!.dispose();

    const adapterDir = join(folder, 'adapter');
    const trained = getPeftModel(base.result, createLoraConfig({ r: 16, loraAlpha: 32, targetModules: ['q_proj', 'v_proj'] }));
    await savePretrained(trained, adapterDir);
    const baseModel = trained.unload();
    const adapterBytes = (await stat(join(adapterDir, 'adapter_model.safetensors'))).size;
    await bench.case(
      'LoRA adapter: fromPretrained onto the loaded base',
      async () => {
        const peftModel = await fromPretrained(baseModel, adapterDir);
        peftModel.unload();
      },
      { warmup: 2, repetitions: 20, note: `${mb(adapterBytes)} MB adapter (r=16 on q_proj, v_proj)` },
    );
    collectGarbage();
    const adapter = await peakGrowth(() => fromPretrained(baseModel, adapterDir));

    const memory = {
      checkpointMB: mb(checkpointBytes),
      basePeakGrowthMB: mb(base.peak),
      baseResidentAfterGcMB: mb(base.after),
      basePeakOverCheckpoint: Math.round((base.peak / checkpointBytes) * 100) / 100,
      adapterMB: mb(adapterBytes),
      adapterPeakGrowthMB: mb(adapter.peak),
    };
    console.table([memory]);
    bench.finish({ memory });
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});
