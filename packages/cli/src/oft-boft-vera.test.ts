import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@peftjs/runtime';
import { loadSafetensors } from '@peftjs/hub';
import { cli, fixture, REPO_ROOT } from './__fixtures__/run';

let work: string;
beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  work = await mkdtemp(join(tmpdir(), 'peftjs-cli-oft-boft-vera-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function maxDifference(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(tf.cast(a, 'float32'), tf.cast(b, 'float32')))));
  const [value] = await difference.data();
  difference.dispose();
  return value!;
}

describe('a Python PEFT VeRA adapter through the CLI (llama-vera)', () => {
  const base = fixture('llama-vera', 'base');
  const adapter = fixture('llama-vera', 'adapter');

  it('predict writes the adapted logits PEFT computed', async () => {
    const io = await loadSafetensors(fixture('llama-vera', 'io.safetensors'));
    const output = join(work, 'vera-logits.safetensors');
    const result = await cli(
      'predict',
      '--base',
      base,
      '--adapter',
      adapter,
      '--input-ids',
      JSON.stringify(await io.input_ids!.array()),
      '--attention-mask',
      JSON.stringify(await io.attention_mask!.array()),
      '--output',
      output,
    );
    expect(result.code, result.stderr).toBe(0);
    const { logits } = await loadSafetensors(output);
    expect(logits!.shape).toEqual([2, 8, 64]);
    // Padded positions of row 1 differ by design (transformers attends nowhere there); compare real tokens.
    const keep = tf.tensor3d(((await io.attention_mask!.array()) as number[][]).map((row) => row.map((value) => [value])));
    expect(await maxDifference(tf.mul(logits!, keep), tf.mul(io.expected_adapted!, keep))).toBeLessThan(1e-4);
    tf.dispose([logits!, keep, ...Object.values(io)]);
  });

  it('generate reproduces the greedy ids, eval the data loss', async () => {
    const io = await loadSafetensors(fixture('llama-vera', 'io.safetensors'), { names: ['input_ids', 'expected_greedy_adapted'] });
    const generated = await cli(
      'generate',
      '--base',
      base,
      '--adapter',
      adapter,
      '--input-ids',
      JSON.stringify(await io.input_ids!.array()),
      '--max-new-tokens',
      '6',
      '--pad-token-id',
      '0',
      '--json',
    );
    expect(generated.code, generated.stderr).toBe(0);
    expect(JSON.parse(generated.stdout).sequences).toEqual(await io.expected_greedy_adapted!.array());
    const expected = JSON.parse(await readFile(fixture('llama-vera', 'case.json'), 'utf8')).expected_loss;
    const evaluated = await cli('eval', '--base', base, '--adapter', adapter, '--data', fixture('llama-vera', 'data.jsonl'), '--json');
    expect(evaluated.code, evaluated.stderr).toBe(0);
    expect(JSON.parse(evaluated.stdout).loss).toBeCloseTo(expected.adapted, 4);
    tf.dispose(Object.values(io));
  });

  it('merge writes the model PEFT merge_and_unload() saves', async () => {
    const out = join(work, 'vera-merged');
    const result = await cli('merge', '--base', base, '--adapter', adapter, '--out', out);
    expect(result.code, result.stderr).toBe(0);
    const ours = await loadSafetensors(join(out, 'model.safetensors'));
    const theirs = await loadSafetensors(fixture('llama-vera', 'merged', 'model.safetensors'));
    expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
    for (const key of Object.keys(theirs)) expect(await maxDifference(ours[key]!, theirs[key]!), key).toBeLessThan(1e-5);
    tf.dispose([...Object.values(ours), ...Object.values(theirs)]);
  });
});

describe('train --method oft | boft | vera', () => {
  it('lists the methods and their config fields as flags', async () => {
    const help = await cli('train', '--help');
    expect(help.code).toBe(0);
    for (const flag of [
      '--coft',
      '--block-share',
      '--module-dropout',
      '--boft-block-size',
      '--boft-n-butterfly-factor',
      '--projection-prng-key',
      '--save-projection',
      '--d-initial',
    ])
      expect(help.stdout).toContain(flag);
  });

  // The tiny LM example (examples/tiny-lm/base): a pretrained LLaMA, hidden 128, 4 layers.
  const tinyBase = `${REPO_ROOT}examples/tiny-lm/base`;
  const tinyData = `${REPO_ROOT}examples/tiny-lm/data/qa-train.jsonl`;
  const cases: Array<[string, string[], string]> = [
    ['oft', ['--target-modules', 'q_proj,v_proj', '--r', '8', '--lr', '0.01'], 'oft_r'],
    ['boft', ['--boft-block-size', '8', '--lr', '0.01'], 'boft_R'],
    ['vera', ['--r', '64', '--lr', '0.02'], 'vera_lambda_b'],
  ];
  for (const [method, flags, tensor] of cases) {
    it(`${method} on the tiny LM: held-out loss falls; the folder loads back in predict`, async () => {
      const out = join(work, `tiny-${method}`);
      const trained = await cli(
        'train',
        '--base',
        tinyBase,
        '--data',
        tinyData,
        '--method',
        method,
        ...flags,
        '--epochs',
        '2',
        '--batch-size',
        '8',
        '--eval-split',
        '16',
        '--seed',
        '3',
        '--no-progress',
        '--out',
        out,
        '--json',
      );
      expect(trained.code, trained.stderr).toBe(0);
      const log = JSON.parse(await readFile(join(out, 'training_log.json'), 'utf8'));
      expect(log.evals.at(-1).loss).toBeLessThan(log.evals[0].loss);
      const config = JSON.parse(await readFile(join(out, 'adapter_config.json'), 'utf8'));
      expect(config.peft_type).toBe(method.toUpperCase());
      const info = JSON.parse((await cli('inspect', out, '--json')).stdout);
      expect(info.tensors.some((entry: { name: string }) => entry.name.endsWith(tensor))).toBe(true);
      const predicted = await cli('predict', '--base', tinyBase, '--adapter', out, '--input-ids', '[[1, 2, 3, 4]]', '--output', join(work, `tiny-${method}.safetensors`), '--json');
      expect(predicted.code, predicted.stderr).toBe(0);
    }, 300_000);
  }
});
