/**
 * Where one training step's activation memory goes: runs the bench/scale workload (LoRA r=16,
 * Adam, batch × seq on single-threaded wasm) for two steps and, for the first, prints where the
 * wasm heap grew (kernel, layer), the peak of tfjs' tensor bytes (and the kernel running at that peak), the bytes the
 * tape keeps for the backward pass at the end of the forward pass (deduplicated by data buffer),
 * grouped by layer role and kernel, and the bytes live at each decoder layer's start.
 *
 *   tsx memory-profile.ts <folder> [--targets q_proj,v_proj] [--batch 4] [--seq 128] [--checkpointing]
 *
 * PEFTJS_LEAN_BACKPROP=0 turns lean backprop off (on by default through initBackend).
 */
import '@tensorflow/tfjs-backend-cpu';

import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { getPeftModel, registerTuner, setWarningHandler } from '@peftjs/core';
import { createLoraConfig, lora } from '@peftjs/lora';
import { AutoModelForCausalLM, causalLmTrainingLoss } from '@peftjs/models';
import { initBackend } from '@peftjs/runtime';

function argument(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? process.argv[index + 1]! : fallback;
}

interface TapeNode {
  id: number;
  kernelName: string;
  saved?: tf.Tensor[];
}
interface EngineInternals {
  state: { numBytes: number; activeTape: TapeNode[] | null; gradientDepth: number };
  trackTensor(tensor: tf.Tensor, backend: unknown): void;
  endTape(): void;
  runKernel(name: string, ...rest: unknown[]): unknown;
}

const folder = process.argv[2]!;
const targets = argument('targets', 'q_proj,v_proj').split(',');
const batch = Number(argument('batch', '4'));
const seq = Number(argument('seq', '128'));
const checkpointing = process.argv.includes('--checkpointing');
const MB = 2 ** 20;

await initBackend({ backend: 'wasm', wasmThreads: 1, threads: 1 });
setWarningHandler(() => {});
registerTuner(lora);
const base = await AutoModelForCausalLM.fromPretrained(folder);
const peft = getPeftModel(base, createLoraConfig({ r: 16, loraAlpha: 32, loraDropout: 0, targetModules: targets }));
const model = peft.model as LayersModel;
const vocab = model.outputs[0]!.shape[2] as number;
const ids = tf.tensor2d(
  Array.from({ length: batch }, (_, row) => Array.from({ length: seq }, (_, index) => (row * 7919 + index * 104729 + 11) % vocab)),
  [batch, seq],
  'int32',
);
const mask = tf.ones([batch, seq]);
const optimizer = tf.train.adam(1e-4);
const heapBytes = () => (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.byteLength ?? 0;
const step = () => {
  const loss = optimizer.minimize(() => causalLmTrainingLoss(model, [ids, mask], ids, { gradientCheckpointing: checkpointing }), true)!;
  loss.dispose();
};
const heapAfterLoad = heapBytes();
const rssAfterLoad = process.resourceUsage().maxRSS * 1024;

// Instrumentation for the second step.
const engine = tf.engine() as unknown as EngineInternals;
let kernel = '';
let phase = 'forward';
let peak = { bytes: 0, kernel: '', phase: '' };
const trackTensor = engine.trackTensor.bind(engine);
engine.trackTensor = (tensor, backend) => {
  trackTensor(tensor, backend);
  if (engine.state.numBytes > peak.bytes) peak = { bytes: engine.state.numBytes, kernel, phase };
};
const runKernel = engine.runKernel.bind(engine);
const growth: string[] = [];
let lastHeap = heapBytes();
engine.runKernel = (name, ...rest) => {
  const previous = kernel;
  kernel = name;
  try {
    return runKernel(name, ...rest);
  } finally {
    kernel = previous;
    const now = heapBytes();
    if (now > lastHeap) {
      growth.push(
        `  heap ${(lastHeap / MB).toFixed(0)} → ${(now / MB).toFixed(0)} MB in ${phase} (kernel ${name}, layer ${layerStarts.at(-1)?.name ?? '-'}, live tensors ${(engine.state.numBytes / MB).toFixed(0)} MB)`,
      );
      lastHeap = now;
    }
  }
};
let forwardEnd: { bytes: number; tape: TapeNode[] } | undefined;
const endTape = engine.endTape.bind(engine);
engine.endTape = () => {
  endTape();
  if (engine.state.gradientDepth === 0 && engine.state.activeTape && !forwardEnd) {
    forwardEnd = { bytes: engine.state.numBytes, tape: [...engine.state.activeTape] };
    phase = 'backward';
  }
};
// Tape positions where each layer's call begins, to attribute saved tensors to layers.
const layerStarts: Array<{ index: number; name: string; bytes: number }> = [];
for (const layer of model.layers) {
  const call = layer.call.bind(layer);
  layer.call = (inputs, kwargs) => {
    if (phase === 'forward') layerStarts.push({ index: engine.state.activeTape?.length ?? 0, name: layer.name, bytes: engine.state.numBytes });
    return call(inputs, kwargs);
  };
}
const before = engine.state.numBytes;
step();
const heapAfterFirst = heapBytes();
step();
const role = (name: string) => name.replace(/\.\d+(?=[.-]|$)/, '.N');
const byRole = new Map<string, number>();
const seen = new Set<unknown>();
let savedTotal = 0;
let layerIndex = -1;
for (const [index, node] of forwardEnd!.tape.entries()) {
  while (layerIndex + 1 < layerStarts.length && layerStarts[layerIndex + 1]!.index <= index) layerIndex++;
  const owner = layerIndex >= 0 ? role(layerStarts[layerIndex]!.name) : '(outside layers)';
  for (const tensor of node.saved ?? []) {
    if (seen.has(tensor.dataId)) continue;
    seen.add(tensor.dataId);
    const bytes = tensor.size * 4;
    savedTotal += bytes;
    const key = `${owner} ${node.kernelName} [${tensor.shape.join(',')}]`;
    byRole.set(key, (byRole.get(key) ?? 0) + bytes);
  }
}
console.log(`batch ${batch} × ${seq}, checkpointing ${checkpointing ? 'on' : 'off'}`);
console.log(`peak RSS ${(rssAfterLoad / MB).toFixed(0)} MB after loading, ${((process.resourceUsage().maxRSS * 1024) / MB).toFixed(0)} MB after step 2`);
console.log(
  `wasm heap: ${(heapAfterLoad / MB).toFixed(0)} MB after loading, ${(heapAfterFirst / MB).toFixed(0)} MB after step 1, ${(heapBytes() / MB).toFixed(0)} MB after step 2`,
);
console.log(`tensor bytes before the step ${(before / MB).toFixed(0)} MB; at the end of the forward pass ${(forwardEnd!.bytes / MB).toFixed(0)} MB`);
console.log(`peak tensor bytes ${(peak.bytes / MB).toFixed(0)} MB in ${peak.phase} (kernel ${peak.kernel})`);
console.log(`saved for backward: ${(savedTotal / MB).toFixed(1)} MB`);
console.log('where the heap grew in step 1:');
for (const line of growth) console.log(line);
for (const [key, bytes] of [...byRole.entries()].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`  ${(bytes / MB).toFixed(1).padStart(8)} MB  ${key}`);
process.exit(0);
