import { dispose, type Tensor } from '@tensorflow/tfjs-core';
import { setOwn } from '../util/set-own';
import type { SafetensorsSource } from './byte-source';
import { openSafetensors, type SafetensorsReader } from './open-safetensors';
import type { SafetensorsHeader } from './safetensors-header';
import type { LoadedTensorData } from './tensor-data';

export interface LoadSafetensorsOptions {
  /**
   * Which tensors to read: a list of names (each must exist) or a filter. Default: all.
   * Only the selected tensors' bytes are read from a file source.
   */
  names?: readonly string[] | ((name: string) => boolean);
}

/** Reads and validates only the header (the u64 length and the JSON), not the tensor data. */
export async function readSafetensorsHeader(source: SafetensorsSource): Promise<SafetensorsHeader> {
  const reader = await openSafetensors(source);
  await reader.close();
  return reader.header;
}

/**
 * Loads tensors as `tf.Tensor`s, keyed by name. The caller owns (and disposes) them. On any
 * error, the tensors already created are disposed before the error is thrown.
 */
export async function loadSafetensors(source: SafetensorsSource, options: LoadSafetensorsOptions = {}): Promise<Record<string, Tensor>> {
  const reader = await openSafetensors(source);
  const result: Record<string, Tensor> = {};
  try {
    for (const name of selectNames(reader, options.names)) {
      setOwn(result, name, await reader.readTensor(name));
    }
    return result;
  } catch (error) {
    dispose(Object.values(result));
    throw error;
  } finally {
    await reader.close();
  }
}

/** Loads tensors as plain typed arrays (no tfjs tensors are created), keyed by name. */
export async function loadSafetensorsData(source: SafetensorsSource, options: LoadSafetensorsOptions = {}): Promise<Record<string, LoadedTensorData>> {
  const reader = await openSafetensors(source);
  const result: Record<string, LoadedTensorData> = {};
  try {
    for (const name of selectNames(reader, options.names)) {
      setOwn(result, name, await reader.readData(name));
    }
    return result;
  } finally {
    await reader.close();
  }
}

export function selectNames(reader: SafetensorsReader, names: LoadSafetensorsOptions['names']): readonly string[] {
  if (names === undefined) {
    return reader.names;
  }
  if (typeof names === 'function') {
    return reader.names.filter((name) => names(name));
  }
  for (const name of names) {
    reader.info(name); // throws tensor-not-found
  }
  return [...new Set(names)];
}
