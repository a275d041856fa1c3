import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildSafetensorsBytes, createRandom } from '../__fixtures__/safetensors-bytes';
import { SafetensorsFormatError } from '../errors/safetensors-format-error';
import { loadSafetensors } from './load-safetensors';
import { serializeSafetensors } from './save-safetensors';

// Every allocation is bounded by the input size (header length and tensor bytes are checked against the
// file size before anything is read), so no mutation can make the reader over-allocate.
const CASES = 20_000;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

async function seedFiles(): Promise<Uint8Array[]> {
  const values = (count: number, scale = 1) => Float32Array.from({ length: count }, (_, index) => (index - count / 2) * scale);
  return [
    await serializeSafetensors(
      {
        'base_model.model.lin0.lora_A.weight': { dtype: 'float32', shape: [4, 10], values: values(40, 0.1) },
        'base_model.model.lin0.lora_B.weight': { dtype: 'float32', shape: [20, 4], values: values(80, 0.01) },
        ids: { dtype: 'int32', shape: [2, 3], values: Int32Array.from([1, 2, 3, -4, 5, 6]) },
        mask: { dtype: 'bool', shape: [3], values: Uint8Array.from([1, 0, 1]) },
      },
      { metadata: { format: 'pt' }, dtypes: { ids: 'I64' } },
    ),
    await serializeSafetensors(
      {
        half: { dtype: 'float32', shape: [3, 2], values: values(6) },
        brain: { dtype: 'float32', shape: [2], values: values(2) },
        small: { dtype: 'int32', shape: [4], values: Int32Array.from([-3, 0, 3, 100]) },
        scalar: { dtype: 'float32', shape: [], values: Float32Array.from([7]) },
        empty: { dtype: 'float32', shape: [0, 5], values: new Float32Array(0) },
      },
      { dtypes: { half: 'F16', brain: 'BF16', small: 'I8' } },
    ),
    buildSafetensorsBytes(
      { __metadata__: { format: 'pt' }, d: { dtype: 'F64', shape: [2], data_offsets: [0, 16] }, u: { dtype: 'U8', shape: [3], data_offsets: [16, 19] } },
      new Uint8Array(19).map((_, index) => index * 7),
    ),
  ];
}

/** Applies one random mutation: byte flips, truncation, extension, or a header text edit. */
function mutate(seed: Uint8Array, random: () => number): Uint8Array {
  const pick = (limit: number) => Math.floor(random() * limit);
  const headerLength = Number(new DataView(seed.buffer, seed.byteOffset).getBigUint64(0, true));
  const kind = pick(8);
  const bytes = seed.slice();
  switch (kind) {
    case 0: {
      // Flip a few random bytes anywhere.
      for (let count = 1 + pick(4); count > 0; count--) {
        bytes[pick(bytes.length)] = pick(256);
      }
      return bytes;
    }
    case 1: {
      // Flip bytes inside the header (most likely to reach the parser's checks).
      for (let count = 1 + pick(3); count > 0; count--) {
        bytes[8 + pick(headerLength)] = pick(256);
      }
      return bytes;
    }
    case 2:
      // Corrupt the length prefix.
      bytes[pick(8)] = pick(256);
      return bytes;
    case 3:
      return bytes.slice(0, pick(bytes.length));
    case 4: {
      const longer = new Uint8Array(bytes.length + 1 + pick(16));
      longer.set(bytes);
      return longer;
    }
    default: {
      // Edit the header text: replace a digit, a quote, a bracket or a dtype name.
      const text = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
      const edits: Array<[RegExp, () => string]> = [
        [/\d+/g, () => String(pick(3) === 0 ? -pick(100) : pick(2) === 0 ? pick(100) : 2 ** (20 + pick(40)))],
        [/"(F32|F16|BF16|I64|I8|BOOL|F64|U8)"/g, () => JSON.stringify(['F32', 'I64', 'F16', 'U8', 'BOOL', 'X', 'F8_E4M3', 'I32'][pick(8)])],
        [/[[\]{}",:]/g, () => ['', '[', ']', '{', '}', '"', ',', ':', '"x":1,', 'null'][pick(10)]],
        [/"[a-z_.A-Z0-9]+"/g, () => JSON.stringify(['data_offsets', 'shape', 'dtype', '__metadata__', 'ids', 'half', 'a'][pick(7)])],
      ];
      const [pattern, replacement] = edits[kind - 5 < edits.length ? pick(edits.length) : 0];
      const matches = [...text.matchAll(pattern)];
      if (matches.length === 0) {
        return bytes;
      }
      const match = matches[pick(matches.length)];
      const edited = text.slice(0, match.index) + replacement() + text.slice(match.index! + match[0].length);
      const keepLength = pick(2) === 0;
      const json = new TextEncoder().encode(edited);
      const rebuilt = new Uint8Array(8 + json.length + (bytes.length - 8 - headerLength));
      new DataView(rebuilt.buffer).setBigUint64(0, BigInt(keepLength ? headerLength : json.length), true);
      rebuilt.set(json, 8);
      rebuilt.set(bytes.subarray(8 + headerLength), 8 + json.length);
      return rebuilt;
    }
  }
}

describe('safetensors fuzzing', () => {
  it(`${CASES} mutated files either load or throw SafetensorsFormatError, and nothing leaks`, async () => {
    const seeds = await seedFiles();
    const random = createRandom(20240611);
    const tensorsBefore = tf.memory().numTensors;
    const outcomes = { loaded: 0, rejected: 0 };
    const problems = new Map<string, number>();
    for (let index = 0; index < CASES; index++) {
      const bytes = mutate(seeds[index % seeds.length], random);
      try {
        const tensors = await loadSafetensors(bytes);
        for (const tensor of Object.values(tensors)) {
          // A loaded tensor must be internally consistent.
          expect(tensor.size).toBe(tensor.shape.reduce((product, dimension) => product * dimension, 1));
        }
        tf.dispose(Object.values(tensors));
        outcomes.loaded++;
      } catch (error) {
        if (!SafetensorsFormatError.isInstance(error)) {
          throw new Error(`case ${index}: unexpected ${String(error)}; bytes (base64): ${Buffer.from(bytes).toString('base64')}`);
        }
        outcomes.rejected++;
        problems.set(error.problem, (problems.get(error.problem) ?? 0) + 1);
      }
    }
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(outcomes.loaded + outcomes.rejected).toBe(CASES);
    // The mutations must exercise both outcomes and many of the checks.
    expect(outcomes.loaded).toBeGreaterThan(100);
    expect(outcomes.rejected).toBeGreaterThan(CASES / 2);
    expect(problems.size).toBeGreaterThanOrEqual(10);
  });
});
