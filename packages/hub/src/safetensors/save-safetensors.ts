import type { FileHandle } from 'node:fs/promises';
import { writeFileAtomic } from '../util/atomic-write';
import { encodePlannedTensor, planSafetensors, type SaveSafetensorsOptions, type WritableTensor } from './encode-safetensors';

type TensorCollection = Readonly<Record<string, WritableTensor>> | ReadonlyMap<string, WritableTensor>;

/**
 * Serialises tensors to safetensors bytes in memory (the browser path). Values are read with
 * `await tensor.data()`; the caller's tensors are not disposed.
 */
export async function serializeSafetensors(tensors: TensorCollection, options: SaveSafetensorsOptions = {}): Promise<Uint8Array> {
  const plan = planSafetensors(tensors, options);
  const output = new Uint8Array(plan.byteLength);
  output.set(plan.prefix, 0);
  for (const planned of plan.tensors) {
    output.set(await encodePlannedTensor(planned), plan.prefix.byteLength + planned.begin);
  }
  return output;
}

/**
 * Writes tensors to a safetensors file, atomically (temporary file in the same folder, then
 * rename), one tensor at a time so that only one tensor's bytes are held in memory.
 */
export async function saveSafetensors(path: string, tensors: TensorCollection, options: SaveSafetensorsOptions = {}): Promise<void> {
  const plan = planSafetensors(tensors, options);
  await writeFileAtomic(path, async (handle) => {
    await writeAll(handle, plan.prefix);
    for (const planned of plan.tensors) {
      await writeAll(handle, await encodePlannedTensor(planned));
    }
  });
}

async function writeAll(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, written, bytes.byteLength - written);
    written += bytesWritten;
  }
}
