import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FIXTURES_ROOT, listFixtureSafetensors } from '../__fixtures__/safetensors-bytes';
import { loadSafetensors, loadSafetensorsData, readSafetensorsHeader } from './load-safetensors';
import { saveSafetensors, serializeSafetensors } from './save-safetensors';
import type { SafetensorsDtype } from './safetensors-dtype';

// Files written by Python (safetensors 0.4.3, torch) for the PEFT 0.11.1 reference cases.
const files = listFixtureSafetensors();

let folder: string;
let tensorsBefore: number;
beforeAll(async () => {
  await tf.setBackend('cpu');
  folder = await mkdtemp(join(tmpdir(), 'peftjs-hub-fixtures-'));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});
beforeEach(() => {
  tensorsBefore = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(tensorsBefore);
});

describe('Python-written safetensors fixtures', () => {
  it('are present', () => {
    expect(files.some((file) => file.endsWith('adapter/adapter_model.safetensors'))).toBe(true);
    expect(files.some((file) => file.endsWith('base/model.safetensors'))).toBe(true);
  });

  it.each(files.map((file) => [relative(FIXTURES_ROOT, file), file]))('%s: reads, with metadata {"format":"pt"}', async (_, file) => {
    const header = await readSafetensorsHeader(file);
    expect(header.metadata).toEqual({ format: 'pt' });
    expect(header.tensors.length).toBeGreaterThan(0);
    const data = await loadSafetensorsData(file);
    expect(Object.keys(data).sort()).toEqual(header.tensors.map((info) => info.name).sort());
  });

  // The Rust writer's layout is deterministic for a single metadata key (see planSafetensors), so
  // writing the same tensors with the same dtypes must reproduce Python's file byte for byte.
  it.each(files.map((file) => [relative(FIXTURES_ROOT, file), file]))('%s: our writer reproduces the file byte for byte', async (_, file) => {
    const original = new Uint8Array(await readFile(file));
    const header = await readSafetensorsHeader(original);
    const data = await loadSafetensorsData(original);
    const dtypes: Record<string, SafetensorsDtype> = {};
    for (const info of header.tensors) {
      dtypes[info.name] = info.dtype;
    }
    const rewritten = await serializeSafetensors(data, { metadata: header.metadata, dtypes });
    expect(Buffer.from(rewritten).equals(Buffer.from(original))).toBe(true);
  });

  it.each(files.filter((file) => /(adapter|base)\/[a-z_]+\.safetensors$/.test(file)).map((file) => [relative(FIXTURES_ROOT, file), file]))(
    '%s: round-trips through tf tensors with identical names, shapes and values',
    async (_, file) => {
      const tensors = await loadSafetensors(file);
      const copy = join(folder, relative(FIXTURES_ROOT, file));
      try {
        await saveSafetensors(copy, tensors, { metadata: { format: 'pt' } });
        const original = await loadSafetensorsData(file);
        const reloaded = await loadSafetensorsData(copy);
        expect(Object.keys(reloaded).sort()).toEqual(Object.keys(original).sort());
        for (const [name, tensor] of Object.entries(original)) {
          expect(reloaded[name].shape, name).toEqual(tensor.shape);
          expect(reloaded[name].dtype, name).toBe(tensor.dtype);
          expect(Buffer.from(reloaded[name].values.buffer).equals(Buffer.from(tensor.values.buffer)), name).toBe(true);
        }
        // Every fixture tensor is float32, so the default writer reproduces the file itself.
        if (Object.values(original).every((tensor) => tensor.sourceDtype === 'F32')) {
          expect((await readFile(copy)).equals(await readFile(file))).toBe(true);
        }
      } finally {
        tf.dispose(Object.values(tensors));
      }
    },
  );
});
