import type { LoadedTensorData } from '@peftjs/hub';
import { ArrayFrozenWeight, type FrozenStorage, type FrozenWeight, type FrozenWeightProvider } from '@peftjs/models';

/** What the provider needs of the checkpoint: its tensors' headers and their values. */
export interface CheckpointTensors {
  readonly names: readonly string[];
  shape(name: string): readonly number[];
  dtype(name: string): string;
  readData(name: string): Promise<LoadedTensorData>;
}

/** Source dtypes a store-backed weight can come from (widened to float32 as read). */
const FLOAT_TYPES = new Set(['F32', 'BF16', 'F16']);

export interface FrozenFiles extends FrozenWeightProvider {
  /** Every weight made (disposed together when a load fails). */
  readonly weights: readonly FrozenWeight[];
  /** Lets go of the values read but not claimed by a layer. */
  release(): void;
}

function candidates(name: string, basePrefix: string | undefined): string[] {
  if (!basePrefix) return [name];
  const prefix = `${basePrefix}.`;
  return name.startsWith(prefix) ? [name, name.slice(prefix.length)] : [name, prefix + name];
}

function transpose(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let row = 0; row < rows; row++) for (let col = 0; col < cols; col++) out[col * rows + row] = values[row * cols + col]!;
  return out;
}

/**
 * The frozen-weight store of a checkpoint in memory (Blobs, no file system): `@peftjs/models`'
 * `openFrozenCheckpoint` does this from a folder path in Node. Layers ask for their weights
 * synchronously while the model is built, so every 2-D float tensor is read first; each one is
 * converted to the storage (bfloat16, int8, ...) in JS arrays outside the wasm heap as its layer
 * claims it, and its float32 copy dropped, so the peak is about the checkpoint's float32 size.
 */
export async function openFrozenFiles(source: CheckpointTensors, storage: FrozenStorage, basePrefix: string | undefined): Promise<FrozenFiles> {
  const pending = new Map<string, Float32Array>();
  for (const name of source.names) {
    if (source.shape(name).length !== 2 || !FLOAT_TYPES.has(source.dtype(name))) continue;
    const data = await source.readData(name);
    pending.set(name, data.values instanceof Float32Array ? data.values : Float32Array.from(data.values as ArrayLike<number>));
  }
  const weights: FrozenWeight[] = [];
  return {
    weights,
    weightFor(request) {
      const key = candidates(`${request.name}.weight`, basePrefix).find((candidate) => pending.has(candidate));
      if (key === undefined) return undefined;
      const [first, second] = source.shape(key) as [number, number];
      // The store keeps [out, in] (an embedding [vocab, dim]); GPT-2's Conv1D is saved [in, out].
      const transposed = request.kind === 'conv1d';
      if ((transposed ? second : first) !== request.units) return undefined;
      const values = pending.get(key)!;
      pending.delete(key);
      const weight = transposed ? new ArrayFrozenWeight(transpose(values, first, second), second, first, storage) : new ArrayFrozenWeight(values, first, second, storage);
      weights.push(weight);
      return weight;
    },
    release() {
      pending.clear();
    },
  };
}
