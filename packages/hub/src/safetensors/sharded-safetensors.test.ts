import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SafetensorsFormatError } from '../errors/safetensors-format-error';
import { saveSafetensors } from './save-safetensors';
import { loadShardedSafetensors, readSafetensorsIndex } from './sharded-safetensors';

let folder: string;
let tensorsBefore: number;

beforeAll(async () => {
  await tf.setBackend('cpu');
  folder = await mkdtemp(join(tmpdir(), 'peftjs-hub-sharded-'));
  const tensor = (value: number) => ({ dtype: 'float32' as const, shape: [2], values: new Float32Array([value, value + 1]) });
  await saveSafetensors(join(folder, 'model-00001-of-00002.safetensors'), { a: tensor(1), b: tensor(3) }, { metadata: { format: 'pt' } });
  await saveSafetensors(join(folder, 'model-00002-of-00002.safetensors'), { c: tensor(5) }, { metadata: { format: 'pt' } });
  await writeFile(
    join(folder, 'model.safetensors.index.json'),
    JSON.stringify({
      metadata: { total_size: 24 },
      weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00001-of-00002.safetensors', c: 'model-00002-of-00002.safetensors' },
    }),
  );
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});
beforeEach(() => {
  tensorsBefore = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(tensorsBefore);
});

describe('sharded checkpoints', () => {
  it('loads every tensor through the index, from the folder or the index path', async () => {
    for (const path of [folder, join(folder, 'model.safetensors.index.json')]) {
      const tensors = await loadShardedSafetensors(path);
      try {
        expect(Object.keys(tensors).sort()).toEqual(['a', 'b', 'c']);
        expect(await tensors.c.array()).toEqual([5, 6]);
      } finally {
        tf.dispose(Object.values(tensors));
      }
    }
    const index = await readSafetensorsIndex(folder);
    expect(index.metadata).toEqual({ total_size: 24 });
  });

  it('loads a selection, opening only the shards it needs', async () => {
    const tensors = await loadShardedSafetensors(folder, { names: ['c'] });
    expect(Object.keys(tensors)).toEqual(['c']);
    tf.dispose(Object.values(tensors));
    await expect(loadShardedSafetensors(folder, { names: ['zzz'] })).rejects.toSatisfy(
      (error) => SafetensorsFormatError.isInstance(error) && error.problem === 'tensor-not-found' && error.tensorName === 'zzz',
    );
  });

  it('rejects an index whose shard is not where it says, or escapes the folder', async () => {
    const bad = join(folder, 'bad');
    await mkdir(bad);
    await writeFile(join(bad, 'wrong.json'), JSON.stringify({ weight_map: { a: '../model-00002-of-00002.safetensors' } }));
    await expect(loadShardedSafetensors(join(bad, 'wrong.json'))).rejects.toSatisfy(
      (error) => SafetensorsFormatError.isInstance(error) && error.problem === 'invalid-index' && error.tensorName === 'a',
    );
    await writeFile(join(folder, 'misplaced.json'), JSON.stringify({ weight_map: { a: 'model-00002-of-00002.safetensors' } }));
    await expect(loadShardedSafetensors(join(folder, 'misplaced.json'))).rejects.toSatisfy(
      (error) => SafetensorsFormatError.isInstance(error) && error.problem === 'tensor-not-found',
    );
    await writeFile(join(bad, 'broken.json'), '{"weight_map": ');
    await expect(readSafetensorsIndex(join(bad, 'broken.json'))).rejects.toThrow(/not valid JSON/);
  });
});
