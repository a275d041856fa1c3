/**
 * Where one LoRA training step's time goes, kernel by kernel: loads a bench/scale checkpoint
 * folder (write one with `pnpm bench scale` first), adds LoRA r=16 on q_proj,v_proj, and times
 * every kernel the engine runs (exclusive time: a kernel or op that runs others is charged only its
 * own part) over `--steps` steps after one warm-up. What they do not account for is the layers',
 * the tape's and the optimizer's JavaScript between kernels. Prints a table; `--json <file>` writes it too.
 *
 *   tsx bench/scale/profile-step.ts /tmp/peftjs-scale/smollm-135m [--targets q_proj,v_proj] [--batch 4] [--seq 128] [--steps 1] [--checkpointing] [--no-native-fused]
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
if (!nativeFused) unregisterWasmFixes({ fixes: [WasmFix.nativeFused, WasmFix.nativeTranspose] });
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
// `--trace <kernel>`: where that kernel's time comes from (call sites in the packages).
const traceKernel = argument('trace', '');
const callers = new Map<string, number>();

// The engine's runKernelFunc, wrapped (kernel functions themselves keep their identity: runtime
// tells its native BatchMatMul by it). Each entry is the kernel plus the engine's bookkeeping for
// it (tape, tensor records); a custom op's forward function is charged to "custom op".
const engine = tf.engine() as unknown as { runKernelFunc(params: { kernelName?: string }): unknown };
const runKernelFunc = engine.runKernelFunc.bind(engine);
engine.runKernelFunc = (params) => {
  if (!recording) return runKernelFunc(params);
  const name = params.kernelName ?? 'custom op';
  innerTime.push(0);
  const begin = performance.now();
  const result = runKernelFunc(params);
  const elapsed = performance.now() - begin;
  const inner = innerTime.pop()!;
  if (innerTime.length > 0) innerTime[innerTime.length - 1]! += elapsed;
  if (name === traceKernel) {
    const where = (new Error().stack ?? '')
      .split('\n')
      .filter((line) => (line.includes('/packages/') || line.includes('tfjs-core/dist')) && !line.includes('profile-step') && !line.includes('engine.js'))
      .slice(0, 6)
      .join(' <- ');
    callers.set(where, (callers.get(where) ?? 0) + elapsed - inner);
  }
  const tally = tallies.get(name) ?? { calls: 0, ms: 0 };
  tally.calls += 1;
  tally.ms += elapsed - inner;
  tallies.set(name, tally);
  return result;
};

const base = await AutoModelForCausalLM.fromPretrained(folder);
const peft = getPeftModel(base, createLoraConfig({ r: 16, loraAlpha: 32, loraDropout: 0, targetModules: argument('targets', 'q_proj,v_proj').split(',') }));
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
// For matching a --cpu-prof profile to the timed steps (its timestamps are this clock's µs).
if (process.argv.includes('--print-window')) console.log(`window-begin-us ${process.hrtime.bigint() / 1000n}`);
const losses: number[] = [];
for (let index = 0; index < steps; index++) losses.push(await step());
if (process.argv.includes('--print-window')) console.log(`window-end-us ${process.hrtime.bigint() / 1000n}`);
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
for (const [where, ms] of [...callers.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12))
  console.log(`${(ms / steps).toFixed(1).padStart(9)} ms  ${where.replace(/\s+at /g, ' ')}`);
const json = argument('json', '');
if (json) writeFileSync(json, `${JSON.stringify({ folder, batch, seq, checkpointing, nativeFused, stepMs: total, kernelMs, losses, rows }, null, 2)}\n`);
process.exit(0);
