/**
 * @peftjs/hub safetensors: reading and writing a 64 MB checkpoint (16 float32 tensors of 1M
 * values) on the cpu backend.
 *
 * - load all tensors from a file (read by offset, one tensor at a time) as tf tensors, and as plain
 *   typed arrays (no tfjs), and from an in-memory buffer;
 * - load one tensor from the same file (only its bytes are read);
 * - save as F32 (the default; atomic, one tensor in memory at a time), as F16 (round-to-nearest-even
 *   conversion), and serialise in memory.
 */
import '@tensorflow/tfjs-backend-cpu';

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadSafetensors, loadSafetensorsData, saveSafetensors, serializeSafetensors, type TensorData } from '@peftjs/hub';
import * as tf from '@tensorflow/tfjs-core';

import { Bench, runMain } from './harness';

const tensorCount = 16;
const valuesPerTensor = 1 << 20;

await runMain(async () => {
  await tf.setBackend('cpu');
  const folder = await mkdtemp(join(tmpdir(), 'peftjs-bench-safetensors-'));
  try {
    const data: Record<string, TensorData> = {};
    for (let index = 0; index < tensorCount; index++) {
      const values = new Float32Array(valuesPerTensor);
      for (let position = 0; position < values.length; position++) values[position] = Math.sin(index * 7919 + position);
      data[`model.layers.${index}.mlp.weight`] = { dtype: 'float32', shape: [1024, 1024], values };
    }
    const file = join(folder, 'model.safetensors');
    await saveSafetensors(file, data, { metadata: { format: 'pt' } });
    const bytes = new Uint8Array(await readFile(file));
    const megabytes = (bytes.byteLength / 2 ** 20).toFixed(0);

    const bench = new Bench('hub-safetensors', `safetensors read/write of a ${megabytes} MB checkpoint (${tensorCount} × [1024, 1024] float32), cpu backend`);
    const loadTensors = (source: string | Uint8Array, names?: string[]) => async () => {
      const tensors = await loadSafetensors(source, { names });
      tf.dispose(Object.values(tensors));
    };
    await bench.interleaved([
      { name: 'load all, file → tf tensors', run: loadTensors(file), note: 'read by offset, tensor by tensor' },
      { name: 'load all, file → typed arrays', run: async () => void (await loadSafetensorsData(file)), note: 'no tfjs tensors' },
      { name: 'load all, memory → tf tensors', run: loadTensors(bytes), note: 'bytes copied out of the buffer' },
    ]);
    await bench.case('load one tensor, file → tf tensor', loadTensors(file, ['model.layers.7.mlp.weight']), { note: 'reads 4 MB of the file' });
    await bench.interleaved([
      { name: 'save F32 (file, atomic)', run: () => saveSafetensors(join(folder, 'out-f32.safetensors'), data, { metadata: { format: 'pt' } }) },
      { name: 'save F16 (file, atomic)', run: () => saveSafetensors(join(folder, 'out-f16.safetensors'), data, { floatDtype: 'F16' }) },
      { name: 'serialize F32 (memory)', run: async () => void (await serializeSafetensors(data)) },
    ]);
    bench.compare('typed arrays vs tf tensors (file)', 'load all, file → tf tensors', 'load all, file → typed arrays');
    bench.compare('one tensor vs all (file)', 'load all, file → tf tensors', 'load one tensor, file → tf tensor');
    bench.compare('F16 vs F32 save', 'save F32 (file, atomic)', 'save F16 (file, atomic)');
    bench.finish({ tensorCount, valuesPerTensor, fileBytes: bytes.byteLength });
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
});
