/**
 * Where one LoRA training step's time goes, kernel by kernel: loads a bench/scale checkpoint
 * folder (write one with `pnpm bench scale` first), adds LoRA r=16 on q_proj,v_proj, and times
 * every wasm kernel call (exclusive time: a kernel that runs others is charged only its own part)
 * over `--steps` steps after one warm-up. What the kernels do not account for is the engine's and
 * the layers' JavaScript. Prints a table; `--json <file>` writes it too.
 *
 *   tsx bench/scale/profile-step.ts /tmp/peftjs-scale/smollm-135m [--batch 4] [--seq 128] [--steps 1] [--checkpointing] [--no-native-fused]
 */
import '@tensorflow/tfjs-backend-cpu';

import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { getPeftModel, registerTuner, setWarningHandler } from '@peftjs/core';
import { createLoraConfig, lora } from '@peftjs/lora';
import { AutoModelForCausalLM, causalLmTrainingLoss } from '@peftjs/models';
import { initBackend, unregisterWasmFixes, WasmFix } from '@peftjs/runtime';

function argument(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? process.argv[index + 1]! : fallback;
}

const folder = process.argv[2]!;
const batch = Number(argument('batch', '4'));
const seq = Number(argument('seq', '128'));
const steps = Number(argument('steps', '1'));
const checkpointing = process.argv.includes('--checkpointing');

await initBackend({ backend: 'wasm', wasmThreads: 1, threads: 1 });
const nativeFused = !process.argv.includes('--no-native-fused');
if (!nativeFused) unregisterWasmFixes({ fixes: [WasmFix.nativeFused] });
setWarningHandler(() => {});
registerTuner(lora);

interface Tally {
  calls: number;
  ms: number;
}
const tallies = new Map<string, Tally>();
let recording = false;
// Time spent inside kernels, per nesting level: an outer kernel subtracts its inner kernels' time.
const innerTime: number[] = [];

for (const config of tf.getKernelsForBackend('wasm')) {
  const original = config.kernelFunc;
  const kernelFunc: tf.KernelFunc = (args) => {
    if (!recording) return original(args);
    innerTime.push(0);
    const begin = performance.now();
    const result = original(args);
    const elapsed = performance.now() - begin;
    const inner = innerTime.pop()!;
    if (innerTime.length > 0) innerTime[innerTime.length - 1]! += elapsed;
    const tally = tallies.get(config.kernelName) ?? { calls: 0, ms: 0 };
    tally.calls += 1;
    tally.ms += elapsed - inner;
    tallies.set(config.kernelName, tally);
    return result;
  };
  tf.unregisterKernel(config.kernelName, 'wasm');
  tf.registerKernel({ ...config, kernelFunc });
}

const base = await AutoModelForCausalLM.fromPretrained(folder);
const peft = getPeftModel(base, createLoraConfig({ r: 16, loraAlpha: 32, loraDropout: 0, targetModules: ['q_proj', 'v_proj'] }));
const model = peft.model as LayersModel;
const vocab = model.outputs[0]!.shape[2] as number;
const ids = tf.tensor2d(
  Array.from({ length: batch }, (_, row) => Array.from({ length: seq }, (_, index) => (row * 7919 + index * 104729 + 11) % vocab)),
  [batch, seq],
  'int32',
);
const mask = tf.ones([batch, seq]);
const optimizer = tf.train.adam(1e-4);
const step = async () => {
  const loss = optimizer.minimize(() => causalLmTrainingLoss(model, [ids, mask], ids, { gradientCheckpointing: checkpointing }), true)!;
  const value = (await loss.data())[0]!;
  loss.dispose();
  return value;
};
await step();
recording = true;
const begin = performance.now();
const losses: number[] = [];
for (let index = 0; index < steps; index++) losses.push(await step());
const total = (performance.now() - begin) / steps;
recording = false;

const rows = [...tallies.entries()].map(([kernel, tally]) => ({ kernel, calls: tally.calls / steps, ms: tally.ms / steps })).sort((a, b) => b.ms - a.ms);
const kernelMs = rows.reduce((sum, row) => sum + row.ms, 0);
console.log(
  `${folder}  batch ${batch} × ${seq}  checkpointing ${checkpointing ? 'on' : 'off'}  native fused ${nativeFused ? 'on' : 'off'}  loss ${losses.map((value) => value.toFixed(5)).join(', ')}`,
);
console.log(
  `step ${total.toFixed(0)} ms; kernels ${kernelMs.toFixed(0)} ms; JavaScript outside kernels ${(total - kernelMs).toFixed(0)} ms (${(((total - kernelMs) / total) * 100).toFixed(1)}%)`,
);
console.log(`${'kernel'.padEnd(34)} ${'calls'.padStart(7)} ${'ms/step'.padStart(9)} ${'share'.padStart(7)}`);
for (const row of rows.slice(0, 40)) {
  console.log(`${row.kernel.padEnd(34)} ${row.calls.toFixed(0).padStart(7)} ${row.ms.toFixed(1).padStart(9)} ${`${((row.ms / total) * 100).toFixed(1)}%`.padStart(7)}`);
}
const json = argument('json', '');
if (json) writeFileSync(json, `${JSON.stringify({ folder, batch, seq, checkpointing, nativeFused, stepMs: total, kernelMs, losses, rows }, null, 2)}\n`);
process.exit(0);
