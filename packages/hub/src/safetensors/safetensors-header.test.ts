import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSafetensorsBytes } from '../__fixtures__/safetensors-bytes';
import { SafetensorsFormatError, type SafetensorsFormatProblem } from '../errors/safetensors-format-error';
import { PeftHubError } from '../errors/peft-hub-error';
import { loadSafetensorsData, readSafetensorsHeader } from './load-safetensors';

let folder: string;
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'peftjs-hub-header-'));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

const f32 = (begin: number, end: number, shape: unknown = [(end - begin) / 4]) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });

interface HostileCase {
  name: string;
  bytes: Uint8Array;
  problem: SafetensorsFormatProblem;
  tensorName?: string;
  message: RegExp;
}

const cases: HostileCase[] = [
  { name: 'file shorter than 8 bytes', bytes: new Uint8Array(5), problem: 'truncated', message: /too short/ },
  {
    name: 'header length over 100 MB',
    bytes: buildSafetensorsBytes({}, new Uint8Array(0), { headerLength: 100_000_001n }),
    problem: 'header-too-large',
    message: /100000001 is over the 100000000-byte limit/,
  },
  {
    name: 'header length near 2^64',
    bytes: buildSafetensorsBytes({}, new Uint8Array(0), { headerLength: 2n ** 64n - 1n }),
    problem: 'header-too-large',
    message: /18446744073709551615/,
  },
  {
    name: 'header length past the end of the file',
    bytes: buildSafetensorsBytes({}, new Uint8Array(0), { headerLength: 1000n }),
    problem: 'truncated',
    message: /runs past the end/,
  },
  {
    name: 'invalid UTF-8',
    // '{"ab":1}' with the byte of "a" replaced by 0xff, which is never valid in UTF-8.
    bytes: buildSafetensorsBytes('{"ab":1}').map((byte, index) => (index === 10 ? 0xff : byte)),
    problem: 'invalid-utf8',
    message: /not valid UTF-8/,
  },
  { name: 'bad JSON', bytes: buildSafetensorsBytes('{"a": }'), problem: 'invalid-json', message: /not valid JSON/ },
  { name: 'JSON that is not an object', bytes: buildSafetensorsBytes('[1,2]'), problem: 'invalid-json', message: /not a JSON object/ },
  {
    name: 'duplicate tensor names',
    bytes: buildSafetensorsBytes(`{"w":${JSON.stringify(f32(0, 4))},"w":${JSON.stringify(f32(4, 8))}}`, new Uint8Array(8)),
    problem: 'duplicate-key',
    tensorName: 'w',
    message: /key "w" appears twice in the header/,
  },
  {
    name: 'duplicate field inside an entry',
    bytes: buildSafetensorsBytes('{"w":{"dtype":"F32","shape":[1],"dtype":"I32","data_offsets":[0,4]}}', new Uint8Array(4)),
    problem: 'duplicate-key',
    tensorName: 'w',
    message: /key "dtype" appears twice in the entry "w"/,
  },
  {
    name: 'non-string metadata',
    bytes: buildSafetensorsBytes({ __metadata__: { format: 1 } }),
    problem: 'invalid-metadata',
    message: /"format" is number 1, not a string/,
  },
  { name: 'entry that is not an object', bytes: buildSafetensorsBytes({ w: [1] }), problem: 'invalid-entry', tensorName: 'w', message: /tensor "w"/ },
  {
    name: 'unknown dtype',
    bytes: buildSafetensorsBytes({ w: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }, new Uint8Array(16)),
    problem: 'unknown-dtype',
    tensorName: 'w',
    message: /tensor "w": unknown dtype "F128"/,
  },
  {
    name: 'negative dimension',
    bytes: buildSafetensorsBytes({ w: f32(0, 4, [-1]) }, new Uint8Array(4)),
    problem: 'invalid-shape',
    tensorName: 'w',
    message: /tensor "w": shape \[-1\]/,
  },
  {
    name: 'non-integer dimension',
    bytes: buildSafetensorsBytes({ w: f32(0, 4, [1.5]) }, new Uint8Array(4)),
    problem: 'invalid-shape',
    tensorName: 'w',
    message: /not a non-negative integer/,
  },
  {
    name: 'string dimension',
    bytes: buildSafetensorsBytes({ w: f32(0, 4, ['1']) }, new Uint8Array(4)),
    problem: 'invalid-shape',
    tensorName: 'w',
    message: /tensor "w"/,
  },
  {
    name: 'element count overflow',
    bytes: buildSafetensorsBytes({ w: f32(0, 4, [2 ** 30, 2 ** 30, 2 ** 30]) }, new Uint8Array(4)),
    problem: 'invalid-shape',
    tensorName: 'w',
    message: /too many elements/,
  },
  {
    name: 'shape × dtype size ≠ byte length',
    bytes: buildSafetensorsBytes({ w: f32(0, 8, [3]) }, new Uint8Array(8)),
    problem: 'size-mismatch',
    tensorName: 'w',
    message: /shape \[3\] × F32 \(4 bytes\) needs 12 bytes but data_offsets \[0, 8\] span 8/,
  },
  {
    name: 'begin after end',
    bytes: buildSafetensorsBytes({ w: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, new Uint8Array(4)),
    problem: 'invalid-offsets',
    tensorName: 'w',
    message: /0 <= begin <= end/,
  },
  {
    name: 'offsets that are not a pair',
    bytes: buildSafetensorsBytes({ w: { dtype: 'F32', shape: [1], data_offsets: [0] } }, new Uint8Array(4)),
    problem: 'invalid-offsets',
    tensorName: 'w',
    message: /not a \[begin, end\] pair/,
  },
  {
    name: 'overlapping tensors',
    bytes: buildSafetensorsBytes({ a: f32(0, 8), b: f32(4, 12) }, new Uint8Array(12)),
    problem: 'invalid-offsets',
    tensorName: 'b',
    message: /tensor "b": data_offsets \[4, 12\] overlaps tensor "a"/,
  },
  {
    name: 'a gap between tensors',
    bytes: buildSafetensorsBytes({ a: f32(0, 4), b: f32(8, 12) }, new Uint8Array(12)),
    problem: 'invalid-offsets',
    tensorName: 'b',
    message: /leaves a gap of 4 bytes after tensor "a"/,
  },
  {
    name: 'data that does not start at 0',
    bytes: buildSafetensorsBytes({ a: f32(4, 8) }, new Uint8Array(8)),
    problem: 'invalid-offsets',
    tensorName: 'a',
    message: /gap of 4 bytes after the header/,
  },
  {
    name: 'offsets past the end of the file',
    bytes: buildSafetensorsBytes({ a: f32(0, 4), b: f32(4, 4000) }, new Uint8Array(8)),
    problem: 'truncated',
    tensorName: 'b',
    message: /tensor "b" ends past the end/,
  },
  {
    name: 'trailing bytes after the data',
    bytes: buildSafetensorsBytes({ a: f32(0, 4) }, new Uint8Array(9)),
    problem: 'trailing-bytes',
    message: /5 bytes after the last tensor/,
  },
];

describe('hostile safetensors input', () => {
  it.each(cases)('$name → SafetensorsFormatError($problem)', async ({ bytes, problem, tensorName, message }) => {
    for (const source of [bytes, new Blob([bytes.slice()])]) {
      const error = await readSafetensorsHeader(source).then(
        () => undefined,
        (thrown: unknown) => thrown,
      );
      expect(SafetensorsFormatError.isInstance(error)).toBe(true);
      expect(PeftHubError.isInstance(error)).toBe(true);
      const formatError = error as SafetensorsFormatError;
      expect(formatError.problem).toBe(problem);
      expect(formatError.tensorName).toBe(tensorName);
      expect(formatError.message).toMatch(message);
    }
  });

  it('reports the file path for file sources, and a file truncated mid-data', async () => {
    const path = join(folder, 'truncated.safetensors');
    const full = buildSafetensorsBytes({ a: f32(0, 400) }, new Uint8Array(400));
    await writeFile(path, full.subarray(0, full.byteLength - 10));
    await expect(loadSafetensorsData(path)).rejects.toSatisfy((error) => SafetensorsFormatError.isInstance(error) && error.problem === 'truncated' && error.message.includes(path));
  });

  it('accepts an empty file (no tensors) and null metadata', async () => {
    const header = await readSafetensorsHeader(buildSafetensorsBytes({ __metadata__: null }));
    expect(header.tensors).toEqual([]);
    expect(header.metadata).toBeUndefined();
  });

  it('does not allocate for a huge header length', async () => {
    // 100 MB is accepted as a length but the file is tiny: rejected before any allocation.
    const bytes = buildSafetensorsBytes({}, new Uint8Array(0), { headerLength: 100_000_000n });
    await expect(readSafetensorsHeader(bytes)).rejects.toThrow(/runs past the end/);
  });
});
