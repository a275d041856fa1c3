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
  /** Lets go of the weights read but not claimed by a layer. */
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
 * synchronously while the model is built, so every 2-D float tensor is read first, each converted
 * to the storage (bfloat16, int8, ...) in JS arrays outside the wasm heap as soon as it is read:
 * the peak is the store plus one tensor in float32. GPT-2's Conv1D weights are saved `[in, out]`
 * and transposed when their layer claims them, from the stored values: exact for float32,
 * bfloat16 and float16; int8 / nf4 / fp4 quantise them a second time in the transposed layout.
 */
export async function openFrozenFiles(source: CheckpointTensors, storage: FrozenStorage, basePrefix: string | undefined): Promise<FrozenFiles> {
  const ready = new Map<string, FrozenWeight>();
  try {
    for (const name of source.names) {
      const shape = source.shape(name);
      if (shape.length !== 2 || !FLOAT_TYPES.has(source.dtype(name))) continue;
      const { values } = await source.readData(name);
      ready.set(name, new ArrayFrozenWeight(values instanceof Float32Array ? values : Float32Array.from(values), shape[0]!, shape[1]!, storage));
    }
  } catch (error) {
    for (const weight of ready.values()) weight.dispose();
    throw error;
  }
  const weights: FrozenWeight[] = [];
  return {
    weights,
    weightFor(request) {
      const key = candidates(`${request.name}.weight`, basePrefix).find((candidate) => ready.has(candidate));
      if (key === undefined) return undefined;
      const stored = ready.get(key)!;
      // The store keeps [out, in] (an embedding [vocab, dim]); GPT-2's Conv1D is saved [in, out].
      const transposed = request.kind === 'conv1d';
      if ((transposed ? stored.cols : stored.rows) !== request.units) return undefined;
      ready.delete(key);
      let weight = stored;
      if (transposed) {
        weight = new ArrayFrozenWeight(transpose(stored.read(), stored.rows, stored.cols), stored.cols, stored.rows, storage);
        stored.dispose();
      }
      weights.push(weight);
      return weight;
    },
    release() {
      for (const weight of ready.values()) weight.dispose();
      ready.clear();
    },
  };
}
