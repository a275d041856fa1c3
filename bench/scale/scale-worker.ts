/**
 * One bench/scale configuration in its own process (so its peak RSS is its own): loads a
 * checkpoint folder, adds LoRA (r=16, alpha 32, no dropout) on the given targets, runs Adam
 * steps on a fixed batch through `causalLmTrainingLoss` on single-threaded wasm, and prints one
 * line `RESULT {json}`.
 *
 *   tsx scale-worker.ts <folder> --targets q_proj,v_proj --storage float32 [--checkpointing]
 *                       [--batch 4] [--seq 128] [--steps 3] [--no-native-fused]
 *
 * `--no-native-fused` leaves out runtime's native fused kernels and transpose (RMSNorm, SwiGLU, RoPE, attention
 * softmax, cross-entropy): the models' fused ops then run their tfjs compositions.
 */
import '@tensorflow/tfjs-backend-cpu';

import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { getPeftModel, registerTuner, setWarningHandler } from '@peftjs/core';
import { createLoraConfig, lora } from '@peftjs/lora';
import { AutoModelForCausalLM, causalLmTrainingLoss, nativeStore } from '@peftjs/models';
import { initBackend, unregisterWasmFixes, WasmFix } from '@peftjs/runtime';

function argument(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? process.argv[index + 1]! : fallback;
}

const folder = process.argv[2]!;
const targets = argument('targets', 'q_proj,v_proj').split(',');
const storage = argument('storage', 'float32');
const checkpointing = process.argv.includes('--checkpointing');
const batch = Number(argument('batch', '4'));
const seq = Number(argument('seq', '128'));
const steps = Number(argument('steps', '3'));
const nativeFused = !process.argv.includes('--no-native-fused');

const result: Record<string, unknown> = { storage, checkpointing, batch, seq, nativeFused };
const megabytes = (bytes: number) => Math.round(bytes / 2 ** 20);
/** Where the memory is at this point: resident set (now and peak), wasm heap, native store, V8 heap and buffers. */
function memoryBreakdown(): Record<string, number> {
  const usage = process.memoryUsage();
  const heap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8?.byteLength ?? 0;
  const store = nativeStore()?.storeStats();
  return {
    rssMB: megabytes(usage.rss),
    maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    wasmHeapMB: megabytes(heap),
    tensorsMB: megabytes(tf.memory().numBytes),
    storeMB: megabytes(store?.bytes ?? 0),
    storeMappedMB: megabytes(store?.mappedBytes ?? 0),
    v8HeapMB: megabytes(usage.heapUsed),
    externalMB: megabytes(usage.external + usage.arrayBuffers),
  };
}
const started = performance.now();
try {
  // the native GEMM's threads from PEFTJS_THREADS (the bench's SCALE_THREADS), XNNPACK's stay at 1
  await initBackend({ backend: 'wasm', wasmThreads: 1, threads: Number(process.env.PEFTJS_THREADS ?? '1') });
  if (!nativeFused) unregisterWasmFixes({ fixes: [WasmFix.nativeFused, WasmFix.nativeTranspose] });
  setWarningHandler(() => {});
  registerTuner(lora);
  const options: Record<string, unknown> = {};
  if (storage === 'bfloat16' || storage === 'float16') options.dtype = storage;
  if (storage === 'int8' || storage === 'nf4' || storage === 'fp4') options.quantization = storage;
  // float32 weights mapped from the file into the native store instead of wasm-heap variables
  if (storage === 'float32-store') options.frozenStore = 'native';
  const base = await AutoModelForCausalLM.fromPretrained(folder, options as never);
  result.loadSeconds = (performance.now() - started) / 1000;
  result.memoryAfterLoad = memoryBreakdown();
  const peft = getPeftModel(base, createLoraConfig({ r: 16, loraAlpha: 32, loraDropout: 0, targetModules: targets }));
  const model = peft.model as LayersModel;
  result.trainable = peft.trainableParametersReport();
  const vocab = model.outputs[0]!.shape[2] as number;
  const ids = tf.tensor2d(
    Array.from({ length: batch }, (_, row) => Array.from({ length: seq }, (_, index) => (row * 7919 + index * 104729 + 11) % vocab)),
    [batch, seq],
    'int32',
  );
  const mask = tf.ones([batch, seq]);
  const optimizer = tf.train.adam(1e-4);
  const times: number[] = [];
  const losses: number[] = [];
  for (let step = 0; step <= steps; step++) {
    const begin = performance.now();
    const loss = optimizer.minimize(() => causalLmTrainingLoss(model, [ids, mask], ids, { gradientCheckpointing: checkpointing }), true)!;
    losses.push((await loss.data())[0]!);
    loss.dispose();
    // The first step warms up (kernel setup, optimizer slots); the others are timed.
    if (step > 0) times.push((performance.now() - begin) / 1000);
    if (step === 0) {
      result.tensorsAfterFirstStep = tf.memory().numTensors;
      result.memoryAfterFirstStep = memoryBreakdown();
    }
  }
  result.tensorsAfterLastStep = tf.memory().numTensors;
  result.memoryAfterLastStep = memoryBreakdown();
  times.sort((a, b) => a - b);
  result.secondsPerStep = times[Math.floor(times.length / 2)];
  result.stepSeconds = times;
  result.tokensPerSecond = (batch * seq) / (result.secondsPerStep as number);
  result.losses = losses;
  result.ok = true;
} catch (error) {
  result.ok = false;
  result.error = error instanceof Error ? error.message.split('\n')[0] : String(error);
}
result.maxRssMB = process.resourceUsage().maxRSS / 1024;
result.totalSeconds = (performance.now() - started) / 1000;
console.log(`RESULT ${JSON.stringify(result)}`);
process.exit(0);
