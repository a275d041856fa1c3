/**
 * Real-size LoRA training: models of four published shapes (GPT-2 124M, SmolLM-135M, Qwen2-0.5B,
 * TinyLlama-1.1B), random-initialised and written as transformers folders under the temp dir (no
 * download), LoRA r=16 on q_proj,v_proj (GPT-2: c_attn), batch 4 × 128, Adam, one warm-up step then
 * `--steps` timed ones; s/step, tokens/s and peak RSS per storage (float32 in the wasm heap / float32-store, the native store mapped from the file / bfloat16 / int8 / nf4)
 * with and without gradient checkpointing, each configuration in its own child process; the same
 * workload in PyTorch (bench/anchors/scale_lora.py, when Debian's python3-torch is installed), one
 * thread each. Every number comes with its ratio to PyTorch float32 without checkpointing, and each
 * row's model FLOPs per second (`stepFlops`: the step's products and attention, no recomputation),
 * which compares the shapes per FLOP.
 *
 *   pnpm bench scale                                   everything (long: run under the heavy lock)
 *   SCALE_SHAPES=smollm-135m,gpt2-124m SCALE_STORAGES=float32 SCALE_STEPS=3 pnpm bench scale
 *   SCALE_TORCH=0 …                                    skip the PyTorch anchor
 *   SCALE_THREADS=2 …                                  both sides on 2 threads (peftjs: PEFTJS_THREADS, the
 *                                                      native GEMM split; torch: set_num_threads)
 *   SCALE_NATIVE_FUSED=off,on …                        peftjs without and with the native fused kernels (default on)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SHAPES, parameterCount, stepFlops } from './scale/model-shapes';
import { writeRandomCheckpoint } from './scale/write-random-checkpoint';

const benchDirectory = dirname(fileURLToPath(import.meta.url));
const root = join(benchDirectory, '..');
const list = (name: string, fallback: string) => (process.env[name] ?? fallback).split(',').filter(Boolean);
const shapes = list('SCALE_SHAPES', SHAPES.map((shape) => shape.name).join(',')).map((name) => {
  const shape = SHAPES.find((candidate) => candidate.name === name);
  if (!shape) throw new Error(`unknown shape "${name}"; one of ${SHAPES.map((candidate) => candidate.name).join(', ')}`);
  return shape;
});
const storages = list('SCALE_STORAGES', 'float32,bfloat16,int8,nf4');
const checkpointingModes = list('SCALE_CHECKPOINTING', 'off,on').map((mode) => mode === 'on');
const steps = process.env.SCALE_STEPS ?? '3';
const nativeFusedModes = list('SCALE_NATIVE_FUSED', 'on').map((mode) => mode === 'on');
const batch = process.env.SCALE_BATCH ?? '4';
const seq = process.env.SCALE_SEQ ?? '128';
const torchPython = '/usr/bin/python3';
const runTorch = process.env.SCALE_TORCH !== '0' && spawnSync(torchPython, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
const timeoutMs = Number(process.env.SCALE_TIMEOUT_S ?? '1500') * 1000;
const threads = process.env.SCALE_THREADS ?? '1';
const childEnv = { ...process.env, OMP_NUM_THREADS: threads, OPENBLAS_NUM_THREADS: threads, MKL_NUM_THREADS: threads, PEFTJS_THREADS: threads, PEFTJS_WASM_THREADS: '1' };

interface Row {
  shape: string;
  runtime: 'peftjs' | 'pytorch';
  storage: string;
  checkpointing: boolean;
  ok: boolean;
  secondsPerStep?: number;
  tokensPerSecond?: number;
  maxRssMB?: number;
  error?: string;
  [key: string]: unknown;
}

function runChild(command: string, args: string[]): Record<string, unknown> {
  const child = spawnSync(command, args, { cwd: root, env: childEnv, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  const line = (child.stdout ?? '').split('\n').find((text) => text.startsWith('RESULT '));
  if (line) return JSON.parse(line.slice('RESULT '.length)) as Record<string, unknown>;
  const tail = `${child.stderr ?? ''}${child.stdout ?? ''}`.trim().split('\n').slice(-3).join(' | ');
  return { ok: false, error: child.error ? child.error.message : `exit ${child.status ?? child.signal}: ${tail.slice(0, 300)}` };
}

const tsx = join(root, 'node_modules', '.bin', 'tsx');
const rows: Row[] = [];
const format = (value: number | undefined, digits: number) => (value === undefined ? '—' : value.toFixed(digits));

function print(row: Row, anchor: Row | undefined): void {
  // Model FLOPs per second: compares shapes per FLOP (GPT-2 against the LLaMA shapes, say).
  const flops = stepFlops(SHAPES.find((shape) => shape.name === row.shape)!, Number(batch), Number(seq));
  if (row.secondsPerStep) row.modelGflopsPerSecond = flops / row.secondsPerStep / 1e9;
  const ratio = (ours: number | undefined, theirs: number | undefined) => (ours && theirs ? ` (${(ours / theirs).toFixed(2)}×)` : '');
  const what = `${row.shape.padEnd(15)} ${row.runtime.padEnd(7)} ${row.storage.padEnd(8)} ckpt ${row.checkpointing ? 'on ' : 'off'}${row.nativeFused === false ? ' (no native fused)' : ''}`;
  if (!row.ok) {
    console.log(`${what}  FAILED: ${row.error}`);
    return;
  }
  console.log(
    `${what}  ${format(row.secondsPerStep, 2)} s/step${ratio(row.secondsPerStep, anchor?.secondsPerStep)}  ${format(row.tokensPerSecond, 1)} tok/s  ${format(row.modelGflopsPerSecond as number | undefined, 1)} GFLOP/s  peak RSS ${format(row.maxRssMB, 0)} MB${ratio(row.maxRssMB, anchor?.maxRssMB)}  first loss ${format((row.losses as number[] | undefined)?.[0], 5)}`,
  );
}

for (const shape of shapes) {
  const folder = join(os.tmpdir(), 'peftjs-scale', shape.name);
  const began = Date.now();
  writeRandomCheckpoint(shape, folder);
  console.log(`\n${shape.label}: ${(parameterCount(shape) / 1e6).toFixed(1)} M parameters in ${folder} (${((Date.now() - began) / 1000).toFixed(1)} s to write or reuse)`);
  let anchor: Row | undefined;
  if (runTorch) {
    // Without checkpointing always: it is the anchor every ratio is taken against.
    for (const checkpointing of [false, ...checkpointingModes.filter(Boolean)]) {
      const result = runChild(torchPython, [
        join(benchDirectory, 'anchors', 'scale_lora.py'),
        folder,
        '--targets',
        shape.targets.join(','),
        '--steps',
        steps,
        '--batch',
        batch,
        '--seq',
        seq,
        ...(checkpointing ? ['--checkpointing'] : []),
      ]);
      const row: Row = { ...result, shape: shape.name, runtime: 'pytorch', storage: 'float32', checkpointing, ok: result.ok === true };
      rows.push(row);
      if (!checkpointing) anchor = row;
      print(row, anchor);
    }
  }
  for (const storage of storages) {
    for (const checkpointing of checkpointingModes) {
      for (const nativeFused of nativeFusedModes) {
        const result = runChild(tsx, [
          '--tsconfig',
          join(root, 'tsconfig.json'),
          join(benchDirectory, 'scale', 'scale-worker.ts'),
          folder,
          '--targets',
          shape.targets.join(','),
          '--storage',
          storage,
          '--steps',
          steps,
          '--batch',
          batch,
          '--seq',
          seq,
          ...(checkpointing ? ['--checkpointing'] : []),
          ...(nativeFused ? [] : ['--no-native-fused']),
        ]);
        const row: Row = { ...result, shape: shape.name, runtime: 'peftjs', storage, checkpointing, nativeFused, ok: result.ok === true };
        rows.push(row);
        print(row, anchor);
      }
    }
  }
}

const results = join(benchDirectory, 'results');
if (!existsSync(results)) mkdirSync(results, { recursive: true });
// A run over some shapes writes its own file, so runs of the others (one at a time) do not overwrite it.
const out = join(results, process.env.SCALE_SHAPES ? `scale-${shapes.map((shape) => shape.name).join('+')}.json` : 'scale.json');
writeFileSync(
  out,
  `${JSON.stringify(
    {
      name: 'scale',
      date: new Date().toISOString(),
      machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, memoryGB: os.totalmem() / 2 ** 30, node: process.version, platform: process.platform },
      workload: { batch: Number(batch), seq: Number(seq), steps: Number(steps), lora: { r: 16, alpha: 32, dropout: 0 }, optimizer: 'adam 1e-4', threads: Number(threads) },
      shapes: shapes.map((shape) => ({
        name: shape.name,
        label: shape.label,
        parameters: parameterCount(shape),
        stepFlops: stepFlops(shape, Number(batch), Number(seq)),
        targets: shape.targets,
        config: shape.config,
      })),
      rows,
    },
    null,
    2,
  )}\n`,
);
console.log(`\nwrote ${out}`);
