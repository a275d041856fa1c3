import { tensor, type Tensor } from '@tensorflow/tfjs-core';
import { SafetensorsFormatError } from '../errors/safetensors-format-error';
import { openByteSource, type SafetensorsSource } from './byte-source';
import { decodeTensorData } from './decode-tensor-data';
import { parseHeader, parseHeaderLength, type SafetensorsHeader, type SafetensorsTensorInfo } from './safetensors-header';
import type { LoadedTensorData } from './tensor-data';

/**
 * An open safetensors source: the header is parsed and validated, tensors are read one at a time
 * by offset. Close it when done (file sources hold a file handle).
 */
export interface SafetensorsReader {
  readonly header: SafetensorsHeader;
  /** The file path, or a description of the in-memory source. */
  readonly source: string;
  /** Tensor names in file order. */
  readonly names: readonly string[];
  has(name: string): boolean;
  /** The header entry of a tensor; throws `SafetensorsFormatError` (`tensor-not-found`) if absent. */
  info(name: string): SafetensorsTensorInfo;
  /** Reads one tensor as plain typed-array data (no tfjs). */
  readData(name: string): Promise<LoadedTensorData>;
  /** Reads one tensor as a `tf.Tensor`; the caller disposes it. */
  readTensor(name: string): Promise<Tensor>;
  close(): Promise<void>;
}

export async function openSafetensors(source: SafetensorsSource): Promise<SafetensorsReader> {
  const bytes = await openByteSource(source);
  let header: SafetensorsHeader;
  try {
    const prefix = bytes.size >= 8 ? (await bytes.read(0, 8)).bytes : new Uint8Array(0);
    const headerByteLength = parseHeaderLength(prefix, bytes.size, bytes.label);
    const headerBytes = (await bytes.read(8, headerByteLength)).bytes;
    header = parseHeader(headerBytes, bytes.size, bytes.label);
  } catch (error) {
    await bytes.close();
    throw error;
  }
  const byName = new Map(header.tensors.map((info) => [info.name, info]));
  const info = (name: string): SafetensorsTensorInfo => {
    const found = byName.get(name);
    if (found === undefined) {
      const known = header.tensors.slice(0, 5).map((entry) => `"${entry.name}"`);
      const more = header.tensors.length > 5 ? `, … (${header.tensors.length} in all)` : '';
      throw new SafetensorsFormatError({
        problem: 'tensor-not-found',
        message: `no tensor named "${name}"; the file has ${known.length === 0 ? 'no tensors' : `${known.join(', ')}${more}`}`,
        tensorName: name,
        source: bytes.label,
      });
    }
    return found;
  };
  const readData = async (name: string): Promise<LoadedTensorData> => {
    const entry = info(name);
    const { bytes: data, fresh } = await bytes.read(entry.fileOffset, entry.byteLength);
    return decodeTensorData(entry, data, fresh, bytes.label);
  };
  return {
    header,
    source: bytes.label,
    names: header.tensors.map((entry) => entry.name),
    has: (name) => byName.has(name),
    info,
    readData,
    async readTensor(name) {
      const data = await readData(name);
      return tensor(data.values, [...data.shape], data.dtype);
    },
    close: () => bytes.close(),
  };
}
