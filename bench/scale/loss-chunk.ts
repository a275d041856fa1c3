/**
 * The chunked cross-entropy's cost against its chunk size, on a real head shape: value and row
 * gradient of the loss over 512 rows (batch 4 × 128) behind a frozen tied head, one wasm thread
 * with the native addon, 3 runs per chunk size (best kept). Each chunk runs two products over the
 * whole head, so thin chunks re-read it many times. Prints a table; `--json <file>` writes it too.
 *
 *   tsx bench/scale/loss-chunk.ts [--vocab 151936] [--hidden 896] [--chunks 27,64,128,256,512]
 */
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { chunkedCrossEntropy, lossChunkRows, weightProjection } from '@peftjs/models';
import { initBackend } from '@peftjs/runtime';

function argument(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index > 0 ? process.argv[index + 1]! : fallback;
}

await initBackend({ backend: 'wasm', wasmThreads: 1, threads: 1 });
const vocab = Number(argument('vocab', '151936'));
const hidden = Number(argument('hidden', '896'));
const count = 512;
const chunks = argument('chunks', `27,64,128,256,512`).split(',').map(Number);
const embedding = tf.randomNormal([vocab, hidden], 0, 0.02) as tf.Tensor2D;
const rows = tf.randomNormal([count, hidden]) as tf.Tensor2D;
const labels = tf.randomUniform([count], 0, vocab, 'int32') as tf.Tensor1D;
const head = weightProjection(embedding, 'vocab-major');
const flops = 2 * 2 * count * hidden * vocab;
const results: Array<{ chunkRows: number; ms: number[]; gflops: number }> = [];
console.log(`vocab ${vocab}, hidden ${hidden}, ${count} rows; default chunk ${lossChunkRows(vocab)} rows`);
console.log(`${'chunk rows'.padStart(10)} ${'best ms'.padStart(9)} ${'GFLOP/s'.padStart(8)}`);
for (const chunkRows of chunks) {
  const ms: number[] = [];
  for (let run = 0; run < 3; run++) {
    const begin = performance.now();
    const gradient = tf.grad((input: tf.Tensor) => chunkedCrossEntropy(input as tf.Tensor2D, labels, head, { chunkRows }))(rows);
    gradient.dataSync();
    gradient.dispose();
    ms.push(performance.now() - begin);
  }
  const best = Math.min(...ms);
  results.push({ chunkRows, ms, gflops: flops / best / 1e6 });
  console.log(`${String(chunkRows).padStart(10)} ${best.toFixed(0).padStart(9)} ${(flops / best / 1e6).toFixed(1).padStart(8)}`);
}
const json = argument('json', '');
if (json) writeFileSync(json, `${JSON.stringify({ vocab, hidden, count, defaultChunkRows: lossChunkRows(vocab), results }, null, 2)}\n`);
process.exit(0);
