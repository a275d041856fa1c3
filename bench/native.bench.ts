/**
 * @peftjs/native through @peftjs/runtime, measured on whole steps against PyTorch on the same CPU.
 *
 * - MLP: 4 × Dense(512→512) + bias, ReLU between, batch 64, MSE, Adam (tfjs-layers, as
 *   lora-vs-full); full fine-tuning vs LoRA r=8 (α 16) on all four layers (@peftjs/lora).
 *   Settings: stock wasm (no fixes, tf.train.adam), runtime's wasm fixes (tf.train.adam), native
 *   (all fixes + @peftjs/native, tf.train.adam), native + fused Adam (createFusedAdam).
 * - Inference with native: base vs LoRA unmerged vs merged.
 * - LLaMA (hidden 256, 4 layers, 4 heads, batch 4 × seq 128): a LoRA step (r=8 on q_proj, v_proj)
 *   and tokens/s, stock vs fixes vs native.
 * - The PyTorch anchor (bench/anchors/mlp_lora.py) when `python3 -c 'import torch'` works: the same
 *   MLP steps and inference, single-threaded (OPENBLAS_NUM_THREADS=1 and the OPENBLAS_* of this
 *   process), served by one Python process and run inside the same interleaved rounds as the Node
 *   cases (one PyTorch run per round, timed in Python), so both see the same machine load; the
 *   table prints both and their ratio.
 *
 * Every comparison within Node is interleaved (one run of each setting per round).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { getPeftModel, registerTuner, setWarningHandler } from '@peftjs/core';
import { createLoraConfig, lora } from '@peftjs/lora';
import { AutoModelForCausalLM, causalLmLoss } from '@peftjs/models';
import type { WasmFixName } from '@peftjs/runtime';
import { createFusedAdam, initBackend, registerWasmFixes, unregisterWasmFixes, WASM_FIX_NAMES, WasmFix } from '@peftjs/runtime';

import type { CaseResult } from './harness';
import { Bench, runMain } from './harness';

const WIDTH = 512;
const LAYERS = 4;
const BATCH = 64;
const RANK = 8;
const STEPS = Number(process.env.BENCH_STEPS ?? 30);

const nativeFixes: WasmFixName[] = [WasmFix.nativeMatMul, WasmFix.nativeFusedMatMul];
const settings = {
  stock: () => unregisterWasmFixes(),
  fixes: () => {
    unregisterWasmFixes({ fixes: nativeFixes });
    registerWasmFixes({ fixes: WASM_FIX_NAMES.filter((fix) => !nativeFixes.includes(fix)) });
  },
  native: () => {
    registerWasmFixes();
  },
};

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

const targets = Array.from({ length: LAYERS }, (_, index) => `dense${index}`);
const loraMlp = (seed: number, initLoraWeights = true) => getPeftModel(mlp(seed), createLoraConfig({ r: RANK, loraAlpha: 2 * RANK, targetModules: targets, initLoraWeights }));

/** The PyTorch anchor as a server: one timed run of a case per request (timed in Python). */
class TorchAnchor {
  readonly samples: Record<string, number[]> = {};
  private readonly pending: ((line: string) => void)[] = [];

  private constructor(
    private readonly process: ReturnType<typeof spawn>,
    readonly version: string,
    readonly threads: number,
  ) {}

  /** Starts it with the first Python that imports torch (python3, else Debian's /usr/bin/python3), or says why not. */
  static async start(): Promise<TorchAnchor | string> {
    const script = join(dirname(fileURLToPath(import.meta.url)), 'anchors', 'mlp_lora.py');
    const env = { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
    const reasons: string[] = [];
    for (const python of ['python3', '/usr/bin/python3']) {
      const probe = spawnSync(python, ['-c', 'import torch'], { env, encoding: 'utf8' });
      if (probe.status !== 0) {
        reasons.push(`${python}: ${(probe.stderr || probe.error?.message || 'failed').trim().split('\n').pop()}`);
        continue;
      }
      const child = spawn(python, [script, '--serve'], { env, stdio: ['pipe', 'pipe', 'inherit'] });
      const lines = createInterface({ input: child.stdout! });
      const first = await new Promise<string>((resolve) => lines.once('line', resolve));
      const ready = JSON.parse(first) as { torch: string; threads: number };
      const anchor = new TorchAnchor(child, ready.torch, ready.threads);
      lines.on('line', (line) => anchor.pending.shift()?.(line));
      return anchor;
    }
    return `no PyTorch (${reasons.join('; ')})`;
  }

  /** Runs `name` once in Python and records the time Python measured. */
  async run(name: string): Promise<void> {
    const reply = new Promise<string>((resolve) => this.pending.push(resolve));
    this.process.stdin!.write(`${name}\n`);
    (this.samples[name] ??= []).push(Number(await reply));
  }

  /** Median of the runs after the first `skip` (the warm-ups). */
  median(name: string, skip: number): number | undefined {
    const values = (this.samples[name] ?? []).slice(skip).sort((a, b) => a - b);
    if (values.length === 0) return undefined;
    const middle = values.length >> 1;
    return values.length % 2 === 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
  }

  stop(): void {
    this.process.stdin!.end();
  }
}

await runMain(async () => {
  setWarningHandler(() => {});
  registerTuner(lora);
  const report = await initBackend({ backend: 'wasm' });
  if (!report.native?.available) {
    console.warn(`@peftjs/native is not available (${report.native?.reason}): the native cases run without it`);
  }
  const anchor = await TorchAnchor.start();
  const torchCase = (name: string, warmup: number, repetitions: number) =>
    typeof anchor === 'string' ? [] : [{ name: `PyTorch: ${name}`, run: () => anchor.run(name), warmup, repetitions }];
  const openblas = Object.fromEntries(Object.entries(process.env).filter(([key]) => key.startsWith('OPENBLAS_')));
  const bench = new Bench('native', 'stock wasm vs runtime fixes vs @peftjs/native (+ fused Adam) vs PyTorch: MLP and LLaMA training steps, LoRA inference');
  const x = tf.randomNormal([BATCH, WIDTH], 0, 1, 'float32', 1);
  const y = tf.randomNormal([BATCH, WIDTH], 0, 1, 'float32', 2);
  const stepper = (model: tfl.LayersModel, optimizer: tf.Optimizer) => () => {
    const loss = optimizer.minimize(() => tf.losses.meanSquaredError(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true)!;
    loss.dataSync();
    loss.dispose();
  };
  const adam = () => tf.train.adam(1e-3);
  const fusedAdam = () => createFusedAdam({ learningRate: 1e-3 });

  // --- MLP training steps --------------------------------------------------------------------------
  const results: Record<string, CaseResult> = {};
  const record = (list: CaseResult[]) => list.forEach((result) => (results[result.name] = result));
  const mlpCases = (kind: 'full' | 'lora') => {
    const model = () => (kind === 'full' ? mlp(10) : loraMlp(10).model);
    return [
      { name: `${kind} step, stock wasm`, run: stepper(model(), adam()), prepare: settings.stock, repetitions: Math.ceil(STEPS / 3) },
      { name: `${kind} step, wasm + fixes`, run: stepper(model(), adam()), prepare: settings.fixes, repetitions: STEPS },
      { name: `${kind} step, native`, run: stepper(model(), adam()), prepare: settings.native, repetitions: STEPS },
      { name: `${kind} step, native + fused Adam`, run: stepper(model(), fusedAdam()), prepare: settings.native, repetitions: STEPS },
    ].map((entry) => ({ ...entry, warmup: 3 }));
  };
  record(await bench.interleaved([...mlpCases('full'), ...mlpCases('lora'), ...torchCase('full step', 3, STEPS), ...torchCase('lora step', 3, STEPS)]));
  for (const kind of ['full', 'lora']) {
    bench.compare(`${kind}: fixes vs stock`, `${kind} step, stock wasm`, `${kind} step, wasm + fixes`);
    bench.compare(`${kind}: native vs fixes`, `${kind} step, wasm + fixes`, `${kind} step, native`);
    bench.compare(`${kind}: native + fused Adam vs native`, `${kind} step, native`, `${kind} step, native + fused Adam`);
    bench.compare(`${kind}: native + fused Adam vs stock`, `${kind} step, stock wasm`, `${kind} step, native + fused Adam`);
  }
  const loraOverFull = (setting: string) => results[`lora step, ${setting}`].medianMs / results[`full step, ${setting}`].medianMs;

  // --- inference with native --------------------------------------------------------------------------
  settings.native();
  const base = mlp(20);
  const unmerged = loraMlp(20, false);
  const merged = loraMlp(20, false);
  await merged.mergeAdapter();
  const infer = (model: tfl.LayersModel) => () => {
    const output = model.predict(x, { batchSize: BATCH }) as tf.Tensor;
    output.dataSync();
    output.dispose();
  };
  record(
    await bench.interleaved([
      { name: 'inference, base (native)', run: infer(base), warmup: 5, repetitions: 2 * STEPS },
      { name: 'inference, LoRA unmerged (native)', run: infer(unmerged.model), warmup: 5, repetitions: 2 * STEPS },
      { name: 'inference, LoRA merged (native)', run: infer(merged.model), warmup: 5, repetitions: 2 * STEPS },
      ...torchCase('inference, base', 5, 2 * STEPS),
      ...torchCase('inference, lora unmerged', 5, 2 * STEPS),
    ]),
  );
  const unmergedOverBase = results['inference, LoRA unmerged (native)'].medianMs / results['inference, base (native)'].medianMs;

  // --- LLaMA: LoRA step, tokens/s ----------------------------------------------------------------------
  const llamaConfig = {
    model_type: 'llama',
    hidden_size: 256,
    intermediate_size: 688,
    num_hidden_layers: 4,
    num_attention_heads: 4,
    num_key_value_heads: 4,
    vocab_size: 1000,
    max_position_embeddings: 1024,
  };
  const [llamaBatch, llamaSeq] = [4, 128];
  const ids = tf.tensor2d(
    Array.from({ length: llamaBatch }, (_, row) => Array.from({ length: llamaSeq }, (_, index) => (row * 131 + index * 37 + 11) % llamaConfig.vocab_size)),
    [llamaBatch, llamaSeq],
    'int32',
  );
  const mask = tf.ones([llamaBatch, llamaSeq]);
  const llamaStep = (optimizer: tf.Optimizer) => {
    const peft = getPeftModel(AutoModelForCausalLM.fromConfig(llamaConfig, { seed: 1 }), createLoraConfig({ r: 8, loraAlpha: 16, targetModules: ['q_proj', 'v_proj'] }));
    return () => {
      const loss = optimizer.minimize(() => causalLmLoss(ids, peft.model.apply([ids, mask], { training: true }) as tf.Tensor), true)!;
      loss.dataSync();
      loss.dispose();
    };
  };
  const llamaCases = [
    { name: 'llama LoRA step, stock wasm', run: llamaStep(adam()), prepare: settings.stock, warmup: 1, repetitions: 5 },
    { name: 'llama LoRA step, wasm + fixes', run: llamaStep(adam()), prepare: settings.fixes, warmup: 2, repetitions: 10 },
    { name: 'llama LoRA step, native + fused Adam', run: llamaStep(fusedAdam()), prepare: settings.native, warmup: 2, repetitions: 10 },
  ];
  try {
    record(await bench.interleaved(llamaCases));
  } catch (error) {
    console.warn(`llama on stock wasm failed (${error instanceof Error ? error.message : String(error)}); without it`);
    record(await bench.interleaved(llamaCases.slice(1)));
  }
  const tokensPerSecond = (name: string) => (results[name] ? (llamaBatch * llamaSeq) / (results[name].medianMs / 1000) : undefined);
  if (results['llama LoRA step, stock wasm']) {
    bench.compare('llama LoRA: native vs stock', 'llama LoRA step, stock wasm', 'llama LoRA step, native + fused Adam');
  }
  bench.compare('llama LoRA: native vs fixes', 'llama LoRA step, wasm + fixes', 'llama LoRA step, native + fused Adam');
  settings.native();

  // --- the table -------------------------------------------------------------------------------------------
  const torchMs = (name: string, warmup: number) => (typeof anchor === 'string' ? undefined : anchor.median(name, warmup));
  const torchMedians: Record<string, number | undefined> = {
    'full step': torchMs('full step', 3),
    'lora step': torchMs('lora step', 3),
    'inference, base': torchMs('inference, base', 5),
    'inference, lora unmerged': torchMs('inference, lora unmerged', 5),
  };
  if (typeof anchor !== 'string') anchor.stop();
  const rows: Record<string, unknown>[] = [];
  const ms = (value: number | undefined) => (value === undefined ? '—' : Math.round(value * 100) / 100);
  const row = (workload: string, names: [string, string, string, string], torchName?: string) => {
    const torchCase = torchName;
    const [stock, fixes, native, fused] = names.map((name) => results[name]?.medianMs);
    const torch = torchCase === undefined ? undefined : torchMedians[torchCase];
    const best = fused ?? native;
    rows.push({
      workload,
      'stock ms': ms(stock),
      'fixes ms': ms(fixes),
      'native ms': ms(native),
      'native+fusedAdam ms': ms(fused),
      'PyTorch ms': ms(torch),
      'best/PyTorch': torch === undefined || best === undefined ? '—' : `${(best / torch).toFixed(2)}x`,
    });
  };
  row('full step (4×512 MLP)', ['full step, stock wasm', 'full step, wasm + fixes', 'full step, native', 'full step, native + fused Adam'], 'full step');
  row('LoRA r=8 step', ['lora step, stock wasm', 'lora step, wasm + fixes', 'lora step, native', 'lora step, native + fused Adam'], 'lora step');
  row('inference, base', ['', '', 'inference, base (native)', ''], 'inference, base');
  row('inference, LoRA unmerged', ['', '', 'inference, LoRA unmerged (native)', ''], 'inference, lora unmerged');
  row('llama LoRA step (4×128 tokens)', ['llama LoRA step, stock wasm', 'llama LoRA step, wasm + fixes', '', 'llama LoRA step, native + fused Adam']);
  console.log('');
  console.table(rows);
  const torchRatio = (name: string) => torchMedians[name];
  const summary = {
    'LoRA/full (native + fused Adam)': loraOverFull('native + fused Adam'),
    'LoRA/full (fixes)': loraOverFull('wasm + fixes'),
    'LoRA/full (PyTorch)': typeof anchor === 'object' ? torchRatio('lora step')! / torchRatio('full step')! : undefined,
    'unmerged/base inference (native)': unmergedOverBase,
    'unmerged/base inference (PyTorch)': typeof anchor === 'object' ? torchRatio('inference, lora unmerged')! / torchRatio('inference, base')! : undefined,
    'llama tokens/s, stock': tokensPerSecond('llama LoRA step, stock wasm'),
    'llama tokens/s, fixes': tokensPerSecond('llama LoRA step, wasm + fixes'),
    'llama tokens/s, native': tokensPerSecond('llama LoRA step, native + fused Adam'),
  };
  console.table(Object.entries(summary).map(([name, value]) => ({ measure: name, value: value === undefined ? '—' : Math.round(value * 100) / 100 })));
  if (typeof anchor === 'string') {
    console.log(`PyTorch anchor skipped: ${anchor}`);
  } else {
    console.log(
      `PyTorch ${anchor.version}, ${anchor.threads} thread, OPENBLAS_NUM_THREADS=1 (PyTorch times are measured in Python; the harness's rows for them add the pipe round trip)`,
    );
  }
  const anchorInfo = typeof anchor === 'string' ? { skipped: anchor } : { torch: anchor.version, threads: anchor.threads, medians: torchMedians, samples: anchor.samples };
  bench.finish({ runtime: report, openblasEnv: openblas, anchor: anchorInfo, table: rows, summary });
});
