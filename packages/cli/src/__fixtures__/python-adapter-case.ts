import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSafetensors } from '@peftjs/hub';
import { initBackend } from '@peftjs/runtime';
import { cli, fixture } from './run';

/** The largest absolute difference between two tensors, read asynchronously. */
export async function maxDifference(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(tf.cast(a, 'float32'), tf.cast(b, 'float32')))));
  const [value] = await difference.data();
  difference.dispose();
  return value!;
}

/** Starts the wasm backend and a scratch folder for the file's tests (removed after them); returns the folder's getter. */
export function cliWorkFolder(prefix: string): () => string {
  let work = '';
  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
    work = await mkdtemp(join(tmpdir(), `peftjs-cli-${prefix}-`));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });
  return () => work;
}

/** What the CLI is checked against in a Python PEFT fixture case. */
export type PythonAdapterCheck = 'predict' | 'generate' | 'eval' | 'merge';

/**
 * A Python PEFT adapter folder through the CLI, one test per check: predict writes the adapted
 * logits PEFT computed (real tokens; padded positions differ by design), generate the greedy ids,
 * eval the data loss, merge the model merge_and_unload() saves.
 */
export function describePythonAdapterCase(name: string, checks: readonly PythonAdapterCheck[], work: () => string): void {
  const base = fixture(name, 'base');
  const adapter = fixture(name, 'adapter');
  describe(`a Python PEFT adapter folder through the CLI (${name})`, () => {
    if (checks.includes('predict')) {
      it('predict writes the adapted logits PEFT computed', async () => {
        const io = await loadSafetensors(fixture(name, 'io.safetensors'));
        const mask = (await io.attention_mask!.array()) as number[][];
        const output = join(work(), `${name}-logits.safetensors`);
        const result = await cli(
          'predict',
          '--base',
          base,
          '--adapter',
          adapter,
          '--input-ids',
          JSON.stringify(await io.input_ids!.array()),
          '--attention-mask',
          JSON.stringify(mask),
          '--output',
          output,
        );
        expect(result.code, result.stderr).toBe(0);
        const { logits } = await loadSafetensors(output);
        expect(logits!.shape).toEqual(io.expected_adapted!.shape);
        const keep = tf.tensor3d(mask.map((row) => row.map((value) => [value])));
        expect(await maxDifference(tf.mul(logits!, keep), tf.mul(io.expected_adapted!, keep))).toBeLessThan(1e-4);
        tf.dispose([logits!, keep, ...Object.values(io)]);
      });
    }
    if (checks.includes('generate')) {
      it('generate --json reproduces PEFT greedy ids', async () => {
        const io = await loadSafetensors(fixture(name, 'io.safetensors'), { names: ['input_ids', 'expected_greedy_adapted'] });
        const ids = JSON.stringify(await io.input_ids!.array());
        const result = await cli('generate', '--base', base, '--adapter', adapter, '--input-ids', ids, '--max-new-tokens', '6', '--pad-token-id', '0', '--json');
        expect(result.code, result.stderr).toBe(0);
        expect(JSON.parse(result.stdout).sequences).toEqual(await io.expected_greedy_adapted!.array());
        tf.dispose(Object.values(io));
      });
    }
    if (checks.includes('eval')) {
      it('eval gives the data loss PEFT computed', async () => {
        const expected = JSON.parse(await readFile(fixture(name, 'case.json'), 'utf8')).expected_loss;
        const result = await cli('eval', '--base', base, '--adapter', adapter, '--data', fixture(name, 'data.jsonl'), '--json');
        expect(result.code, result.stderr).toBe(0);
        expect(JSON.parse(result.stdout).loss).toBeCloseTo(expected.adapted, 4);
      });
    }
    if (checks.includes('merge')) {
      it('merge writes the model PEFT merge_and_unload() saves', async () => {
        const out = join(work(), `${name}-merged`);
        const result = await cli('merge', '--base', base, '--adapter', adapter, '--out', out);
        expect(result.code, result.stderr).toBe(0);
        const ours = await loadSafetensors(join(out, 'model.safetensors'));
        const theirs = await loadSafetensors(fixture(name, 'merged', 'model.safetensors'));
        expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
        for (const key of Object.keys(theirs)) expect(await maxDifference(ours[key]!, theirs[key]!), key).toBeLessThan(1e-5);
        tf.dispose([...Object.values(ours), ...Object.values(theirs)]);
      });
    }
  });
}
