import { SafetensorsFormatError } from '../errors/safetensors-format-error';
import { findDuplicateKey } from './json-duplicate-keys';
import { isSafetensorsDtype, SAFETENSORS_DTYPE_BYTES, type SafetensorsDtype } from './safetensors-dtype';

/** The largest header accepted, as in the Rust library: 100 MB. */
export const MAX_HEADER_BYTES = 100_000_000;

/** One tensor's entry in a safetensors header. Offsets are absolute positions in the file. */
export interface SafetensorsTensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** `data_offsets` as written in the header: relative to the start of the data section. */
  readonly dataOffsets: readonly [number, number];
  /** Absolute byte position of the tensor's first byte in the file. */
  readonly fileOffset: number;
  readonly byteLength: number;
}

/** A parsed and validated safetensors header. */
export interface SafetensorsHeader {
  /** `__metadata__` (string → string), or undefined when the file has none. */
  readonly metadata: Readonly<Record<string, string>> | undefined;
  /** Every tensor, in file order (by offset). */
  readonly tensors: readonly SafetensorsTensorInfo[];
  /** Byte length of the JSON header (the u64 at the start of the file). */
  readonly headerByteLength: number;
  /** Absolute offset of the data section: 8 + headerByteLength. */
  readonly dataOffset: number;
  /** Total file size in bytes. */
  readonly fileSize: number;
}

/**
 * Reads the u64 little-endian header length and checks it against the 100 MB cap and the file
 * size, before anything is allocated for it.
 */
export function parseHeaderLength(prefix: Uint8Array, fileSize: number, source?: string): number {
  if (fileSize < 8 || prefix.byteLength < 8) {
    throw new SafetensorsFormatError({
      problem: 'truncated',
      message: `file is ${fileSize} bytes, too short for the 8-byte header length`,
      source,
    });
  }
  const length = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsFormatError({
      problem: 'header-too-large',
      message: `header length ${length} is over the ${MAX_HEADER_BYTES}-byte limit`,
      source,
    });
  }
  const headerByteLength = Number(length);
  if (8 + headerByteLength > fileSize) {
    throw new SafetensorsFormatError({
      problem: 'truncated',
      message: `header length ${headerByteLength} runs past the end of the ${fileSize}-byte file`,
      source,
    });
  }
  return headerByteLength;
}

/** Parses and validates the JSON header bytes (without the 8-byte prefix). */
export function parseHeader(headerBytes: Uint8Array, fileSize: number, source?: string): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch (error) {
    throw new SafetensorsFormatError({ problem: 'invalid-utf8', message: 'header is not valid UTF-8', source, cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new SafetensorsFormatError({
      problem: 'invalid-json',
      message: `header is not valid JSON: ${(error as Error).message}`,
      source,
      cause: error,
    });
  }
  if (!isPlainObject(parsed)) {
    throw new SafetensorsFormatError({ problem: 'invalid-json', message: 'header is not a JSON object', source });
  }
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined) {
    const inside = duplicate.path.length === 0 ? 'the header' : `the entry "${duplicate.path[0]}"`;
    throw new SafetensorsFormatError({
      problem: 'duplicate-key',
      message: `key "${duplicate.key}" appears twice in ${inside}`,
      tensorName: duplicate.path.length === 0 ? duplicate.key : duplicate.path[0],
      source,
    });
  }

  let metadata: Record<string, string> | undefined;
  const entries: SafetensorsTensorInfo[] = [];
  const dataOffset = 8 + headerBytes.byteLength;
  for (const [name, entry] of Object.entries(parsed)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(entry, source);
      continue;
    }
    entries.push(parseEntry(name, entry, dataOffset, source));
  }

  entries.sort((left, right) => left.dataOffsets[0] - right.dataOffsets[0] || left.dataOffsets[1] - right.dataOffsets[1]);
  let expectedStart = 0;
  let previous: SafetensorsTensorInfo | undefined;
  for (const entry of entries) {
    const [start] = entry.dataOffsets;
    if (start !== expectedStart) {
      const relation =
        start < expectedStart
          ? `overlaps tensor "${previous?.name}"`
          : `leaves a gap of ${start - expectedStart} bytes after ${previous === undefined ? 'the header' : `tensor "${previous.name}"`}`;
      throw new SafetensorsFormatError({
        problem: 'invalid-offsets',
        message: `tensor "${entry.name}": data_offsets [${entry.dataOffsets.join(', ')}] ${relation}`,
        tensorName: entry.name,
        source,
      });
    }
    expectedStart = entry.dataOffsets[1];
    previous = entry;
  }
  const expectedSize = dataOffset + expectedStart;
  if (expectedSize > fileSize) {
    throw new SafetensorsFormatError({
      problem: 'truncated',
      message: `file is ${fileSize} bytes but its header describes ${expectedSize}${previous === undefined ? '' : ` (tensor "${previous.name}" ends past the end)`}`,
      tensorName: previous?.name,
      source,
    });
  }
  if (expectedSize < fileSize) {
    throw new SafetensorsFormatError({
      problem: 'trailing-bytes',
      message: `file has ${fileSize - expectedSize} bytes after the last tensor's data`,
      source,
    });
  }
  return { metadata, tensors: entries, headerByteLength: headerBytes.byteLength, dataOffset, fileSize };
}

function parseMetadata(value: unknown, source: string | undefined): Record<string, string> | undefined {
  if (value === null) {
    return undefined;
  }
  if (!isPlainObject(value)) {
    throw new SafetensorsFormatError({ problem: 'invalid-metadata', message: '__metadata__ is not an object', source });
  }
  const metadata: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') {
      throw new SafetensorsFormatError({
        problem: 'invalid-metadata',
        message: `__metadata__ value for "${key}" is ${describe(item)}, not a string`,
        source,
      });
    }
    metadata[key] = item;
  }
  return metadata;
}

function parseEntry(name: string, entry: unknown, dataOffset: number, source: string | undefined): SafetensorsTensorInfo {
  const fail = (problem: 'invalid-entry' | 'unknown-dtype' | 'invalid-shape' | 'invalid-offsets' | 'size-mismatch', message: string): never => {
    throw new SafetensorsFormatError({ problem, message: `tensor "${name}": ${message}`, tensorName: name, source });
  };
  if (!isPlainObject(entry)) {
    return fail('invalid-entry', `entry is ${describe(entry)}, not an object with dtype, shape and data_offsets`);
  }
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== 'string') {
    return fail('invalid-entry', `dtype is ${describe(dtype)}, not a string`);
  }
  if (!isSafetensorsDtype(dtype)) {
    return fail('unknown-dtype', `unknown dtype ${JSON.stringify(dtype)}`);
  }
  if (!Array.isArray(shape)) {
    return fail('invalid-shape', `shape is ${describe(shape)}, not an array`);
  }
  let elements = 1;
  for (const dimension of shape) {
    if (typeof dimension !== 'number' || !Number.isSafeInteger(dimension) || dimension < 0) {
      return fail('invalid-shape', `shape [${shape.map((item) => JSON.stringify(item)).join(', ')}] has a dimension that is not a non-negative integer`);
    }
  }
  if (!shape.includes(0)) {
    for (const dimension of shape as number[]) {
      elements *= dimension;
      if (elements > Number.MAX_SAFE_INTEGER) {
        return fail('invalid-shape', `shape [${shape.join(', ')}] has too many elements`);
      }
    }
  } else {
    elements = 0;
  }
  if (!Array.isArray(offsets) || offsets.length !== 2) {
    return fail('invalid-offsets', `data_offsets is ${describe(offsets)}, not a [begin, end] pair`);
  }
  const [begin, end] = offsets as unknown[];
  if (typeof begin !== 'number' || typeof end !== 'number' || !Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin < 0 || end < begin) {
    return fail('invalid-offsets', `data_offsets ${JSON.stringify(offsets)} are not integers with 0 <= begin <= end`);
  }
  const byteLength = elements * SAFETENSORS_DTYPE_BYTES[dtype];
  if (byteLength > Number.MAX_SAFE_INTEGER) {
    return fail('invalid-shape', `shape [${shape.join(', ')}] has too many elements`);
  }
  if (end - begin !== byteLength) {
    return fail(
      'size-mismatch',
      `shape [${shape.join(', ')}] × ${dtype} (${SAFETENSORS_DTYPE_BYTES[dtype]} bytes) needs ${byteLength} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  }
  return { name, dtype, shape: [...(shape as number[])], dataOffsets: [begin, end], fileOffset: dataOffset + begin, byteLength };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  if (Array.isArray(value)) {
    return 'an array';
  }
  const text = JSON.stringify(value);
  return `${typeof value} ${text !== undefined && text.length > 40 ? `${text.slice(0, 40)}…` : text}`;
}
