import type { FileHandle } from 'node:fs/promises';
import { SafetensorsFormatError } from '../errors/safetensors-format-error';

/**
 * Where safetensors bytes come from: a file path (Node; read by offset, never whole), or bytes
 * already in memory (`Uint8Array`, `ArrayBuffer`), or a `Blob`/`File` (browsers; read by slice).
 */
export type SafetensorsSource = string | Uint8Array | ArrayBuffer | Blob;

/** Random access to a source's bytes. */
export interface ByteSource {
  readonly size: number;
  /** For messages: the file path, or a description of the in-memory source. */
  readonly label: string;
  /**
   * Reads `length` bytes at `offset`. `fresh` is true when the returned bytes are a new buffer
   * owned by the caller (safe to view and keep); false when they may alias the caller's input.
   */
  read(offset: number, length: number): Promise<{ bytes: Uint8Array; fresh: boolean }>;
  close(): Promise<void>;
}

export async function openByteSource(source: SafetensorsSource): Promise<ByteSource> {
  if (typeof source === 'string') {
    return openFileSource(source);
  }
  if (source instanceof Uint8Array) {
    return memorySource(source);
  }
  if (source instanceof ArrayBuffer) {
    return memorySource(new Uint8Array(source));
  }
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    return blobSource(source);
  }
  throw new TypeError('a safetensors source must be a file path, a Uint8Array, an ArrayBuffer or a Blob');
}

function memorySource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.byteLength,
    label: `${bytes.byteLength}-byte buffer`,
    async read(offset, length) {
      return { bytes: bytes.subarray(offset, offset + length), fresh: false };
    },
    async close() {},
  };
}

function blobSource(blob: Blob): ByteSource {
  const name = (blob as { name?: unknown }).name;
  return {
    size: blob.size,
    label: typeof name === 'string' && name !== '' ? name : `${blob.size}-byte blob`,
    async read(offset, length) {
      const buffer = await blob.slice(offset, offset + length).arrayBuffer();
      if (buffer.byteLength !== length) {
        throw new SafetensorsFormatError({ problem: 'truncated', message: `blob ended early at ${offset + buffer.byteLength}`, source: this.label });
      }
      return { bytes: new Uint8Array(buffer), fresh: true };
    },
    async close() {},
  };
}

async function openFileSource(path: string): Promise<ByteSource> {
  const { open } = await import('node:fs/promises');
  const handle: FileHandle = await open(path, 'r');
  let size: number;
  try {
    size = (await handle.stat()).size;
  } catch (error) {
    await handle.close();
    throw error;
  }
  return {
    size,
    label: path,
    async read(offset, length) {
      const bytes = new Uint8Array(length);
      let filled = 0;
      while (filled < length) {
        const { bytesRead } = await handle.read(bytes, filled, length - filled, offset + filled);
        if (bytesRead === 0) {
          throw new SafetensorsFormatError({
            problem: 'truncated',
            message: `file ended at byte ${offset + filled} while reading ${length} bytes at ${offset} (was it changed while open?)`,
            source: path,
          });
        }
        filled += bytesRead;
      }
      return { bytes, fresh: true };
    },
    async close() {
      await handle.close();
    },
  };
}
