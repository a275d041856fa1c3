import { readSafetensorsHeader, readSafetensorsIndex, SAFETENSORS_INDEX_NAME, type SafetensorsTensorInfo } from '@peftjs/hub';
import { ModelLoadError } from '../errors';
import type { FrozenWeightProvider, FrozenWeightRequest } from './frozen-build-scope';
import { storageName, STORAGE_CODES, type FrozenStorage } from './frozen-storage';
import { ArrayFrozenWeight, NativeFrozenWeight, type FrozenWeight } from './frozen-weight';
import type { NativeStoreAddon } from './native-store';
import { bfloat16ToFloat, float16ToFloat } from './quantize';

const SOURCE_TYPES: Record<string, number> = { F32: 0, BF16: 1, F16: 2 };
const WEIGHTS_NAME = 'model.safetensors';

interface Located {
  readonly path: string;
  readonly info: SafetensorsTensorInfo;
}

/** A checkpoint opened for a store-backed build: the provider the layer factories ask, and what it made. */
export interface FrozenCheckpoint extends FrozenWeightProvider {
  /** Checkpoint keys now held by the store (the regular loader skips them). */
  readonly storedKeys: ReadonlySet<string>;
  /** Every weight made so far (disposed together when a load fails). */
  readonly weights: readonly FrozenWeight[];
  /** Elements per checkpoint key (for memory estimates). */
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  /** Lets go of the file handles (mapped entries keep their file mapped). */
  close(): void;
  /** Disposes every weight made (a failed load). */
  disposeAll(): void;
}

async function checkpointFiles(folder: string): Promise<string[]> {
  const { join } = await import('node:path');
  const { access } = await import('node:fs/promises');
  const exists = (path: string) =>
    access(path).then(
      () => true,
      () => false,
    );
  const single = join(folder, WEIGHTS_NAME);
  if (await exists(single)) return [single];
  const indexPath = join(folder, SAFETENSORS_INDEX_NAME);
  if (await exists(indexPath)) {
    const index = await readSafetensorsIndex(indexPath);
    return [...new Set(Object.values(index.weightMap))].map((shard) => join(index.folder, shard));
  }
  throw new ModelLoadError(`no ${WEIGHTS_NAME} or ${SAFETENSORS_INDEX_NAME} in ${folder}`, { problem: 'missing-file', path: folder });
}

function candidates(name: string, basePrefix: string | undefined): string[] {
  if (!basePrefix) return [name];
  const prefix = `${basePrefix}.`;
  return name.startsWith(prefix) ? [name, name.slice(prefix.length)] : [name, prefix + name];
}

/** Float32 values of a source tensor's bytes (F32, BF16, F16, little-endian). */
function widen(bytes: Uint8Array, dtype: string): Float32Array {
  if (dtype === 'F32') return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const halves = new Uint16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const convert = dtype === 'BF16' ? bfloat16ToFloat : float16ToFloat;
  const out = new Float32Array(halves.length);
  for (let index = 0; index < halves.length; index++) out[index] = convert(halves[index]!);
  return out;
}

function transpose(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let row = 0; row < rows; row++) for (let col = 0; col < cols; col++) out[col * rows + row] = values[row * cols + col]!;
  return out;
}

/**
 * Opens a transformers checkpoint (single or sharded safetensors) for a store-backed build. With
 * the native store, each file is mapped once and weights already in the storage's type are read
 * in place from the mapping (a float32 or bfloat16 checkpoint opens without copying); other
 * storages are converted in native memory straight from the mapping. Without it, each weight is
 * read into JS arrays (converted or quantised there).
 */
export async function openFrozenCheckpoint(folder: string, storage: FrozenStorage, options: { basePrefix?: string; addon?: NativeStoreAddon }): Promise<FrozenCheckpoint> {
  const files = await checkpointFiles(folder);
  const tensors = new Map<string, Located>();
  for (const path of files) {
    const header = await readSafetensorsHeader(path);
    for (const info of header.tensors) tensors.set(info.name, { path, info });
  }
  const fs = await import('node:fs');
  const addon = options.addon;
  const mappings = new Map<string, number>();
  const descriptors = new Map<string, number>();
  const storedKeys = new Set<string>();
  const weights: FrozenWeight[] = [];
  const params = new Float64Array(9);
  const code = STORAGE_CODES[storageName(storage)];

  function locate(request: FrozenWeightRequest): { key: string; located: Located; rows: number; cols: number; transposed: boolean } | undefined {
    const key = candidates(`${request.name}.weight`, options.basePrefix).find((candidate) => tensors.has(candidate));
    if (key === undefined) return undefined;
    const located = tensors.get(key)!;
    const { shape, dtype } = located.info;
    if (shape.length !== 2 || SOURCE_TYPES[dtype] === undefined) return undefined;
    // The store keeps [out, in] (an embedding [vocab, dim]); GPT-2's Conv1D is saved [in, out].
    if (request.kind === 'conv1d') return shape[1] === request.units ? { key, located, rows: shape[1]!, cols: shape[0]!, transposed: true } : undefined;
    return shape[0] === request.units ? { key, located, rows: shape[0]!, cols: shape[1]!, transposed: false } : undefined;
  }

  function nativeWeight(addon: NativeStoreAddon, found: NonNullable<ReturnType<typeof locate>>): FrozenWeight {
    let mapping = mappings.get(found.located.path);
    if (mapping === undefined) {
      mapping = addon.storeMapFile(found.located.path);
      mappings.set(found.located.path, mapping);
    }
    params[0] = 1;
    params[1] = mapping;
    params[2] = found.located.info.fileOffset;
    params[3] = SOURCE_TYPES[found.located.info.dtype]!;
    params[4] = found.rows;
    params[5] = found.cols;
    params[6] = found.transposed ? 1 : 0;
    params[7] = code;
    params[8] = storage.doubleQuant ? 1 : 0;
    return new NativeFrozenWeight(addon, addon.storeCreate(params));
  }

  function arrayWeight(found: NonNullable<ReturnType<typeof locate>>): FrozenWeight {
    let descriptor = descriptors.get(found.located.path);
    if (descriptor === undefined) {
      descriptor = fs.openSync(found.located.path, 'r');
      descriptors.set(found.located.path, descriptor);
    }
    const bytes = new Uint8Array(found.located.info.byteLength);
    fs.readSync(descriptor, bytes, 0, bytes.byteLength, found.located.info.fileOffset);
    let values = widen(bytes, found.located.info.dtype);
    if (found.transposed) values = transpose(values, found.cols, found.rows);
    return new ArrayFrozenWeight(values, found.rows, found.cols, storage);
  }

  return {
    storedKeys,
    weights,
    tensors: new Map([...tensors].map(([name, located]) => [name, located.info])),
    weightFor(request) {
      const found = locate(request);
      if (!found) return undefined;
      const weight = addon ? nativeWeight(addon, found) : arrayWeight(found);
      weights.push(weight);
      storedKeys.add(found.key);
      return weight;
    },
    close() {
      for (const mapping of mappings.values()) addon?.storeUnmapFile(mapping);
      mappings.clear();
      for (const descriptor of descriptors.values()) fs.closeSync(descriptor);
      descriptors.clear();
    },
    disposeAll() {
      for (const weight of weights) weight.dispose();
    },
  };
}
