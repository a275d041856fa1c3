/**
 * @peftjs/native's frozen-weight store GEMM on LLaMA shapes (batch 4 × 128 = 512 rows): a frozen
 * linear forward (x·Wᵀ) with the weight read in place and dequantised while the GEMM packs it,
 * per storage (float32, bfloat16, float16, int8, nf4, fp4), and the plain SGEMM over a float32
 * weight on the heap for reference; the input gradient (dY·W) on one shape; on 1 and 2 threads.
 * GFLOP/s against this core's measured FMA peak (`measurePeak`, taken around every group, best).
 * Shapes: SmolLM-135M's q_proj, up_proj, down_proj; Qwen2-0.5B's up_proj; TinyLlama-1.1B's q_proj (~2 min).
 */
import { SGEMM_PARAMS, SgemmParam, STORE_CREATE_PARAMS, STORE_MAT_MUL_PARAMS, StoreStorage } from '@peftjs/native';

import { Bench, runMain } from './harness';
import { nativeAddonOrSkip, PeakMeter, seededFloats as seeded } from './native-gemm-common';

const ROWS = 512;
const REPETITIONS = Number(process.env.BENCH_STEPS ?? 3);
const storages = ['float32', 'bfloat16', 'float16', 'int8', 'nf4', 'fp4'] as const;
const models: Array<{ name: string; shapes: Array<[string, number, number]> }> = [
  {
    name: 'SmolLM-135M',
    shapes: [
      ['q_proj', 576, 576],
      ['up_proj', 576, 1536],
      ['down_proj', 1536, 576],
    ],
  },
  { name: 'Qwen2-0.5B', shapes: [['up_proj', 896, 4864]] },
  { name: 'TinyLlama-1.1B', shapes: [['q_proj', 2048, 2048]] },
];

await runMain(async () => {
  const addon = nativeAddonOrSkip();
  if (addon === undefined) return;
  const bench = new Bench(
    'frozen-store-gemm',
    'frozen-weight store GEMM (x·Wᵀ, dequantised in the packing) per storage on LLaMA shapes, 512 rows, 1 and 2 threads, vs the measured FMA peak',
  );
  const peak = new PeakMeter(addon, 150);
  const rows: Array<Record<string, string | number>> = [];
  for (const threads of [1, 2]) {
    addon.setThreads(threads);
    for (const model of models) {
      for (const [shape, inFeatures, outFeatures] of model.shapes) {
        peak.measure();
        const weight = seeded(outFeatures * inFeatures, 3);
        const x = seeded(ROWS * Math.max(inFeatures, outFeatures), 5);
        // one buffer: x, the float32 weight (for the plain SGEMM), out
        const memory = new Float32Array(x.length + weight.length + ROWS * Math.max(inFeatures, outFeatures));
        memory.set(x, 0);
        memory.set(weight, x.length);
        const bytes = new Uint8Array(memory.buffer);
        const entries = new Map<string, number>();
        for (const storage of storages) {
          const params = new Float64Array(STORE_CREATE_PARAMS);
          params.set([0, 0, 0, 0, outFeatures, inFeatures, 0, StoreStorage[storage], 0]);
          entries.set(storage, addon.storeCreate(params, new Uint8Array(weight.buffer)));
        }
        const flop = 2 * ROWS * inFeatures * outFeatures;
        const forward = (entry: number, transposed: boolean) => {
          const params = new Float64Array(STORE_MAT_MUL_PARAMS);
          params.set([entry, ROWS, 0, (x.length + weight.length) * 4, transposed ? 1 : 0, -1]);
          return () => addon.storeMatMul(bytes, params);
        };
        const sgemm = new Float64Array(SGEMM_PARAMS);
        sgemm[SgemmParam.batch] = 1;
        sgemm[SgemmParam.m] = ROWS;
        sgemm[SgemmParam.n] = outFeatures;
        sgemm[SgemmParam.k] = inFeatures;
        sgemm[SgemmParam.a] = 0;
        sgemm[SgemmParam.b] = x.length * 4;
        sgemm[SgemmParam.c] = (x.length + weight.length) * 4;
        sgemm[SgemmParam.transposeB] = 1;
        sgemm[SgemmParam.bias] = -1;
        sgemm[SgemmParam.prelu] = -1;
        const prefix = `${model.name} ${shape} ${inFeatures}→${outFeatures} ${threads}t`;
        const cases = [
          { name: `${prefix} sgemm heap f32`, run: () => addon.sgemm(bytes, sgemm) },
          ...storages.map((storage) => ({ name: `${prefix} store ${storage}`, run: forward(entries.get(storage)!, true) })),
          ...(shape === 'up_proj' ? (['float32', 'nf4'] as const).map((storage) => ({ name: `${prefix} store ${storage} dY·W`, run: forward(entries.get(storage)!, false) })) : []),
        ];
        const results = await bench.interleaved(cases.map((entry) => ({ ...entry, warmup: 1, repetitions: REPETITIONS })));
        peak.measure();
        for (const result of results) {
          rows.push({
            case: result.name,
            'GFLOP/s (median)': Number((flop / (result.medianMs * 1e6)).toFixed(1)),
            'GFLOP/s (best)': Number((flop / (result.minMs * 1e6)).toFixed(1)),
          });
        }
        for (const entry of entries.values()) addon.storeFree(entry);
      }
    }
  }
  addon.setThreads(1);
  console.log(`\nmeasured FMA peak of one core (best over the run): ${peak.best.toFixed(1)} GFLOP/s (ISA ${addon.info().isa})`);
  console.table(rows.map((row) => ({ ...row, 'best / 1-core peak': `${((100 * (row['GFLOP/s (best)'] as number)) / peak.best).toFixed(0)}%` })));
  bench.finish({ peakGflops: peak.best, isa: addon.info().isa, rows });
});
