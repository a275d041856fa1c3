/**
 * @peftjs/native's GEMM on the products of one LoRA training step (r=16, batch 4 × 128 = 512
 * rows) of SmolLM-135M and TinyLlama-1.1B: the frozen linear forward x·Wᵀ (q_proj, up_proj,
 * down_proj, the LM head), its input gradient dY·W, LoRA's thin products (x·Aᵀ, h·Bᵀ and the two
 * weight gradients), and the frozen store's dequantising forward and input gradient (bfloat16,
 * int8, nf4). Each on 1 and 2 threads; GFLOP/s against this core's FMA peak measured in the same
 * run (`measurePeak`, around every model's group, best).
 *
 * Two clocks: wall time, and for 1 thread the process's CPU time, which leaves out the time the
 * thread was descheduled (on a shared machine the wall clock mostly measures the neighbours).
 * `BENCH_STEPS` sets the timed runs per case (default 5); `GEMM_MODELS=smollm` keeps one model.
 */
import { type NativeAddon, SGEMM_PARAMS, STORE_CREATE_PARAMS, STORE_MAT_MUL_PARAMS, SgemmParam, StoreStorage } from '@peftjs/native';

import { Bench, runMain } from './harness';
import { nativeAddonOrSkip, PeakMeter, seededFloats as seeded } from './native-gemm-common';

const ROWS = 512;
const RANK = 16;
const REPETITIONS = Number(process.env.BENCH_STEPS ?? 5);

const models = [
  { key: 'smollm', name: 'SmolLM-135M', hidden: 576, intermediate: 1536, vocabulary: 49152 },
  { key: 'tinyllama', name: 'TinyLlama-1.1B', hidden: 2048, intermediate: 5632, vocabulary: 32000 },
].filter((model) => process.env.GEMM_MODELS === undefined || process.env.GEMM_MODELS.split(',').includes(model.key));

/** One product: C [m, n] = op(A) · op(B), A and B float32 on the heap, or B a store entry. */
interface Product {
  name: string;
  m: number;
  n: number;
  k: number;
  transposeA?: boolean;
  /** B stored [n, k] (a Linear weight, x·Wᵀ); otherwise [k, n]. */
  transposeB: boolean;
  storage?: keyof typeof StoreStorage;
}

function products(model: (typeof models)[number]): Product[] {
  const { hidden, intermediate, vocabulary } = model;
  return [
    { name: 'q_proj x·Wᵀ', m: ROWS, n: hidden, k: hidden, transposeB: true },
    { name: 'up_proj x·Wᵀ', m: ROWS, n: intermediate, k: hidden, transposeB: true },
    { name: 'down_proj x·Wᵀ', m: ROWS, n: hidden, k: intermediate, transposeB: true },
    { name: 'lm_head x·Wᵀ', m: ROWS, n: vocabulary, k: hidden, transposeB: true },
    { name: 'up_proj dY·W', m: ROWS, n: hidden, k: intermediate, transposeB: false },
    { name: 'down_proj dY·W', m: ROWS, n: intermediate, k: hidden, transposeB: false },
    { name: 'LoRA x·Aᵀ', m: ROWS, n: RANK, k: hidden, transposeB: true },
    { name: 'LoRA h·Bᵀ', m: ROWS, n: hidden, k: RANK, transposeB: true },
    { name: 'LoRA dA = dHᵀ·x', m: RANK, n: hidden, k: ROWS, transposeA: true, transposeB: false },
    { name: 'LoRA dB = dYᵀ·h', m: hidden, n: RANK, k: ROWS, transposeA: true, transposeB: false },
    ...(['bfloat16', 'int8', 'nf4'] as const).map((storage) => ({ name: `store ${storage} up_proj x·Wᵀ`, m: ROWS, n: intermediate, k: hidden, transposeB: true, storage })),
    { name: 'store nf4 up_proj dY·W', m: ROWS, n: hidden, k: intermediate, transposeB: false, storage: 'nf4' },
  ];
}

/** A run of the product on fresh operands, and how to free what it made. */
function prepare(addon: NativeAddon, product: Product): { run: () => void; free: () => void } {
  const { m, n, k } = product;
  const a = seeded(m * k, 5);
  const b = seeded(k * n, 3);
  const memory = new Float32Array(a.length + b.length + m * n);
  memory.set(a, 0);
  memory.set(b, a.length);
  const bytes = new Uint8Array(memory.buffer);
  if (product.storage !== undefined) {
    // the weight as a Linear holds it: [out, in] = [n, k] for x·Wᵀ, [k, n] for dY·W
    const [rows, cols] = product.transposeB ? [n, k] : [k, n];
    const create = new Float64Array(STORE_CREATE_PARAMS);
    create.set([0, 0, a.length * 4, 0, rows, cols, 0, StoreStorage[product.storage], 0]);
    const entry = addon.storeCreate(create, bytes);
    const params = new Float64Array(STORE_MAT_MUL_PARAMS);
    params.set([entry, m, 0, (a.length + b.length) * 4, product.transposeB ? 1 : 0, -1]);
    return { run: () => addon.storeMatMul(bytes, params), free: () => addon.storeFree(entry) };
  }
  const params = new Float64Array(SGEMM_PARAMS);
  params[SgemmParam.batch] = 1;
  params[SgemmParam.m] = m;
  params[SgemmParam.n] = n;
  params[SgemmParam.k] = k;
  params[SgemmParam.a] = 0;
  params[SgemmParam.b] = a.length * 4;
  params[SgemmParam.c] = (a.length + b.length) * 4;
  params[SgemmParam.transposeA] = product.transposeA ? 1 : 0;
  params[SgemmParam.transposeB] = product.transposeB ? 1 : 0;
  params[SgemmParam.bias] = -1;
  params[SgemmParam.prelu] = -1;
  return { run: () => addon.sgemm(bytes, params), free: () => {} };
}

/** Best wall and CPU seconds over the timed runs (one untimed run first). */
function time(run: () => void): { wall: number; cpu: number } {
  run();
  let wall = Number.POSITIVE_INFINITY;
  let cpu = Number.POSITIVE_INFINITY;
  for (let repetition = 0; repetition < REPETITIONS; repetition++) {
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    run();
    wall = Math.min(wall, (performance.now() - start) / 1e3);
    const used = process.cpuUsage(cpuStart);
    cpu = Math.min(cpu, (used.user + used.system) / 1e6);
  }
  return { wall, cpu };
}

await runMain(async () => {
  const addon = nativeAddonOrSkip();
  if (addon === undefined) return;
  const bench = new Bench(
    'lora-step-gemm',
    'native GEMM on the products of a LoRA r=16 step (512 rows), SmolLM-135M and TinyLlama-1.1B shapes, 1 and 2 threads, vs the measured FMA peak',
  );
  const peak = new PeakMeter(addon, 200);
  const rows: Array<Record<string, string | number>> = [];
  for (const model of models) {
    peak.measure();
    for (const product of products(model)) {
      const flop = 2 * product.m * product.n * product.k;
      const { run, free } = prepare(addon, product);
      addon.setThreads(1);
      const one = time(run);
      addon.setThreads(2);
      const two = time(run);
      addon.setThreads(1);
      free();
      const row = {
        model: model.name,
        product: product.name,
        'm×n×k': `${product.m}×${product.n}×${product.k}`,
        '1t GFLOP/s (wall)': Number((flop / one.wall / 1e9).toFixed(1)),
        '1t GFLOP/s (cpu)': Number((flop / one.cpu / 1e9).toFixed(1)),
        '2t GFLOP/s (wall)': Number((flop / two.wall / 1e9).toFixed(1)),
        '2t / 1t (wall)': Number((one.wall / two.wall).toFixed(2)),
      };
      rows.push(row);
      console.log(`${row.model} ${row.product}: ${row['1t GFLOP/s (wall)']} / ${row['1t GFLOP/s (cpu)']} (cpu) GFLOP/s, 2 threads ${row['2t GFLOP/s (wall)']}`);
    }
    peak.measure();
  }
  const share = (value: number) => `${Math.round((100 * value) / peak.best)}%`;
  console.log(`\nmeasured FMA peak of one core (best over the run): ${peak.best.toFixed(1)} GFLOP/s (ISA ${addon.info().isa}); best of ${REPETITIONS} runs each\n`);
  console.table(
    rows.map((row) => ({
      ...row,
      '1t wall / peak': share(row['1t GFLOP/s (wall)'] as number),
      '1t cpu / peak': share(row['1t GFLOP/s (cpu)'] as number),
    })),
  );
  bench.finish({ peakGflops: peak.best, isa: addon.info().isa, repetitions: REPETITIONS, rows });
});
