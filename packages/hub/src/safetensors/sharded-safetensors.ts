import { dispose, type Tensor } from '@tensorflow/tfjs-core';
import { SafetensorsFormatError } from '../errors/safetensors-format-error';
import { setOwn } from '../util/set-own';
import type { LoadSafetensorsOptions } from './load-safetensors';
import { openSafetensors } from './open-safetensors';

/** The conventional name of a sharded checkpoint's index. */
export const SAFETENSORS_INDEX_NAME = 'model.safetensors.index.json';

/** A parsed `*.safetensors.index.json`: which shard file holds each tensor. */
export interface SafetensorsIndex {
  readonly metadata: Readonly<Record<string, unknown>>;
  /** Tensor name → shard file name, relative to the index's folder. */
  readonly weightMap: Readonly<Record<string, string>>;
  /** Absolute folder the shard names are relative to. */
  readonly folder: string;
}

/**
 * Reads a sharded checkpoint index. `path` is the index file, or a folder holding
 * `model.safetensors.index.json`. Shard names must stay inside the index's folder.
 */
export async function readSafetensorsIndex(path: string): Promise<SafetensorsIndex> {
  const { readFile, stat } = await import('node:fs/promises');
  const { dirname, join, resolve, sep, isAbsolute } = await import('node:path');
  const indexPath = (await stat(path)).isDirectory() ? join(path, SAFETENSORS_INDEX_NAME) : path;
  const folder = resolve(dirname(indexPath));
  const invalid = (message: string, tensorName?: string): never => {
    throw new SafetensorsFormatError({ problem: 'invalid-index', message, tensorName, source: indexPath });
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(indexPath, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== undefined) {
      throw error;
    }
    return invalid(`index is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return invalid('index is not a JSON object');
  }
  const { weight_map: weightMap, metadata } = parsed as Record<string, unknown>;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    return invalid('index has no "weight_map" object');
  }
  const checked: Record<string, string> = {};
  for (const [name, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string' || shard === '' || isAbsolute(shard) || !resolve(folder, shard).startsWith(folder + sep)) {
      return invalid(`tensor "${name}": shard ${JSON.stringify(shard)} is not a file name inside the index's folder`, name);
    }
    setOwn(checked, name, shard);
  }
  const metadataObject = typeof metadata === 'object' && metadata !== null && !Array.isArray(metadata) ? (metadata as Record<string, unknown>) : {};
  return { metadata: metadataObject, weightMap: checked, folder };
}

/**
 * Loads tensors from a sharded checkpoint (`model.safetensors.index.json` + shard files). Each
 * shard is opened once and only the selected tensors are read. Every tensor must be in the shard
 * the index names. The caller disposes the returned tensors; on error none are left allocated.
 */
export async function loadShardedSafetensors(path: string, options: LoadSafetensorsOptions = {}): Promise<Record<string, Tensor>> {
  const { join } = await import('node:path');
  const index = await readSafetensorsIndex(path);
  const allNames = Object.keys(index.weightMap);
  let selected: readonly string[];
  if (options.names === undefined) {
    selected = allNames;
  } else if (typeof options.names === 'function') {
    selected = allNames.filter(options.names);
  } else {
    for (const name of options.names) {
      if (!Object.hasOwn(index.weightMap, name)) {
        throw new SafetensorsFormatError({
          problem: 'tensor-not-found',
          message: `no tensor named "${name}" in the index's weight_map`,
          tensorName: name,
          source: path,
        });
      }
    }
    selected = [...new Set(options.names)];
  }
  const byShard = new Map<string, string[]>();
  for (const name of selected) {
    const shard = index.weightMap[name];
    byShard.set(shard, [...(byShard.get(shard) ?? []), name]);
  }
  const result: Record<string, Tensor> = {};
  try {
    for (const [shard, names] of byShard) {
      const reader = await openSafetensors(join(index.folder, shard));
      try {
        for (const name of names) {
          setOwn(result, name, await reader.readTensor(name));
        }
      } finally {
        await reader.close();
      }
    }
    return result;
  } catch (error) {
    dispose(Object.values(result));
    throw error;
  }
}
