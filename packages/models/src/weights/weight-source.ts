import * as tf from '@tensorflow/tfjs-core';
import { openSafetensors, readSafetensorsIndex, SAFETENSORS_INDEX_NAME, type SafetensorsReader } from '@peftjs/hub';
import { ModelLoadError } from '../errors';

export const WEIGHTS_NAME = 'model.safetensors';

/** Checkpoint tensors by name, read one at a time. */
export interface WeightSource {
  /** Where the tensors come from, for messages. */
  readonly label: string;
  readonly names: readonly string[];
  shape(name: string): readonly number[];
  dtype(name: string): string;
  /** Reads one tensor (float checkpoints come back as float32); the caller disposes it. */
  read(name: string): Promise<tf.Tensor>;
  close(): Promise<void>;
}

function fromReaders(label: string, readers: Map<string, SafetensorsReader>): WeightSource {
  const owner = new Map<string, SafetensorsReader>();
  for (const reader of readers.values()) for (const name of reader.names) owner.set(name, reader);
  const get = (name: string) => {
    const reader = owner.get(name);
    if (!reader) throw new ModelLoadError(`no tensor "${name}" in ${label}`, { problem: 'missing-weight', tensorName: name, path: label });
    return reader;
  };
  return {
    label,
    names: [...owner.keys()],
    shape: (name) => get(name).info(name).shape,
    dtype: (name) => get(name).info(name).dtype,
    read: (name) => get(name).readTensor(name),
    async close() {
      await Promise.all([...readers.values()].map((reader) => reader.close()));
    },
  };
}

/**
 * Opens a model folder's weights: `model.safetensors`, or a sharded checkpoint through
 * `model.safetensors.index.json` (each shard opened once, tensors read on demand).
 */
export async function openWeights(dir: string): Promise<WeightSource> {
  const { join } = await import('node:path');
  const { access, readdir } = await import('node:fs/promises');
  const exists = (path: string) =>
    access(path).then(
      () => true,
      () => false,
    );
  const single = join(dir, WEIGHTS_NAME);
  if (await exists(single)) {
    const reader = await openSafetensors(single);
    return fromReaders(single, new Map([[single, reader]]));
  }
  const indexPath = join(dir, SAFETENSORS_INDEX_NAME);
  if (await exists(indexPath)) {
    const index = await readSafetensorsIndex(indexPath);
    const readers = new Map<string, SafetensorsReader>();
    try {
      for (const shard of new Set(Object.values(index.weightMap))) {
        const path = join(index.folder, shard);
        readers.set(path, await openSafetensors(path));
      }
    } catch (error) {
      await Promise.all([...readers.values()].map((reader) => reader.close()));
      throw error;
    }
    const source = fromReaders(indexPath, readers);
    for (const [name, shard] of Object.entries(index.weightMap)) {
      const reader = readers.get(join(index.folder, shard))!;
      if (!reader.has(name)) {
        await source.close();
        throw new ModelLoadError(`${indexPath} puts "${name}" in ${shard}, which has no such tensor`, { problem: 'missing-weight', tensorName: name, path: indexPath });
      }
    }
    return source;
  }
  const files = await readdir(dir).catch(() => [] as string[]);
  const other = files.filter((file) => /\.(bin|pt|pth|h5|msgpack|ckpt)$/.test(file));
  throw new ModelLoadError(
    `no ${WEIGHTS_NAME} or ${SAFETENSORS_INDEX_NAME} in ${dir}` +
      (other.length
        ? `; found ${other.join(', ')}, but only safetensors checkpoints can be read (convert with transformers: model.save_pretrained(dir, safe_serialization=True))`
        : ''),
    { problem: 'missing-file', path: dir },
  );
}

const SAFETENSORS_DTYPES: Record<string, string> = { float32: 'F32', int32: 'I32', bool: 'BOOL', complex64: 'C64', string: 'STRING' };

/** A weight source over tensors already in memory (the caller keeps ownership); `dtype` reports safetensors names (`F32`). */
export function weightsFromTensors(tensors: Readonly<Record<string, tf.Tensor>>, label = 'tensors'): WeightSource {
  return {
    label,
    names: Object.keys(tensors),
    shape: (name) => tensors[name]!.shape,
    // The safetensors names loadWeights checks: float32 → F32, int32 → I32, …
    dtype: (name) => SAFETENSORS_DTYPES[tensors[name]!.dtype] ?? tensors[name]!.dtype,
    async read(name) {
      const tensor = tensors[name];
      if (!tensor) throw new ModelLoadError(`no tensor "${name}" in ${label}`, { problem: 'missing-weight', tensorName: name, path: label });
      return tf.clone(tensor);
    },
    async close() {},
  };
}
