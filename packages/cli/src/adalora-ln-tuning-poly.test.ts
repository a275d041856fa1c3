import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@peftjs/runtime';
import { loadSafetensors } from '@peftjs/hub';
import { cli, fixture } from './__fixtures__/run';

let work: string;
beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  work = await mkdtemp(join(tmpdir(), 'peftjs-cli-new-methods-'));
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

describe.each(['llama-adalora', 'llama-ln-tuning'])('the CLI with a Python %s adapter folder', (name) => {
  it('predict writes the adapted logits PEFT computed', async () => {
    const io = await loadSafetensors(fixture(name, 'io.safetensors'));
    const output = join(work, `${name}-logits.safetensors`);
    const result = await cli(
      'predict',
      '--base',
      fixture(name, 'base'),
      '--adapter',
      fixture(name, 'adapter'),
      '--input-ids',
      JSON.stringify(await io.input_ids!.array()),
      '--attention-mask',
      JSON.stringify(await io.attention_mask!.array()),
      '--output',
      output,
    );
    expect(result.code, result.stderr).toBe(0);
    const { logits } = await loadSafetensors(output);
    // Row 1 is right-padded; compare the real tokens (padded positions differ by design).
    const keep = tf.tensor3d(((await io.attention_mask!.array()) as number[][]).map((row) => row.map((value) => [value])));
    expect(await maxDifference(tf.mul(logits!, keep), tf.mul(io.expected_adapted!, keep))).toBeLessThan(1e-4);
    tf.dispose([logits!, keep, ...Object.values(io)]);
  });

  it('generate --json reproduces PEFT greedy ids', async () => {
    const io = await loadSafetensors(fixture(name, 'io.safetensors'));
    const result = await cli(
      'generate',
      '--base',
      fixture(name, 'base'),
      '--adapter',
      fixture(name, 'adapter'),
      '--input-ids',
      JSON.stringify(await io.input_ids!.array()),
      '--max-new-tokens',
      '6',
      '--pad-token-id',
      '0',
      '--json',
    );
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).sequences).toEqual(await io.expected_greedy_adapted!.array());
    tf.dispose(Object.values(io));
  });

  it('merge writes the model PEFT merge_and_unload() saves', async () => {
    const out = join(work, `merged-${name}`);
    const result = await cli('merge', '--base', fixture(name, 'base'), '--adapter', fixture(name, 'adapter'), '--out', out);
    expect(result.code, result.stderr).toBe(0);
    const ours = await loadSafetensors(join(out, 'model.safetensors'));
    const theirs = await loadSafetensors(fixture(name, 'merged', 'model.safetensors'));
    expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
    for (const key of Object.keys(theirs)) expect(await maxDifference(ours[key]!, theirs[key]!), key).toBeLessThan(1e-5);
    tf.dispose([...Object.values(ours), ...Object.values(theirs)]);
  });
});

describe('the CLI with the new methods', () => {
  it('eval gives the LN-tuning loss PEFT computed (llama-ln-tuning)', async () => {
    const expected = JSON.parse(await readFile(fixture('llama-ln-tuning', 'case.json'), 'utf8')).expected_loss;
    const result = await cli(
      'eval',
      '--base',
      fixture('llama-ln-tuning', 'base'),
      '--adapter',
      fixture('llama-ln-tuning', 'adapter'),
      '--data',
      fixture('llama-ln-tuning', 'data.jsonl'),
      '--json',
    );
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).loss).toBeCloseTo(expected.adapted, 4);
  });

  it('lists adalora, ln-tuning and poly with their config flags in train --help', async () => {
    const help = await cli('train', '--help');
    expect(help.code).toBe(0);
    for (const flag of [
      '--init-r',
      '--target-r',
      '--tinit',
      '--tfinal',
      '--deltaT',
      '--beta1',
      '--orth-reg-weight',
      '--total-step',
      '--n-tasks',
      '--n-skills',
      '--n-splits',
      '--poly-type',
    ]) {
      expect(help.stdout, flag).toContain(flag);
    }
    expect(help.stdout).toMatch(/adalora/);
    expect(help.stdout).toMatch(/ln-tuning/);
    expect(help.stdout).toMatch(/poly/);
  });

  it('refuses AdaLoRA training without total_step before any step, with one error line', async () => {
    const out = join(work, 'train-adalora-no-total');
    const result = await cli(
      'train',
      '--method',
      'adalora',
      '--base',
      fixture('llama-ln-tuning', 'base'),
      '--data',
      fixture('llama-ln-tuning', 'data.jsonl'),
      '--epochs',
      '1',
      '--eval-split',
      '0',
      '--out',
      out,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/needs total_step/);
    expect(
      result.stderr
        .trim()
        .split('\n')
        .filter((line) => line.startsWith('peftjs: error:')),
    ).toHaveLength(1);
    expect(existsSync(join(out, 'adapter_model.safetensors'))).toBe(false);
  });

  it('refuses Poly training on rows without task ids, in one error line', async () => {
    const out = join(work, 'train-poly-no-tasks');
    const result = await cli(
      'train',
      '--method',
      'poly',
      '--n-tasks',
      '2',
      '--base',
      fixture('llama-ln-tuning', 'base'),
      '--data',
      fixture('llama-ln-tuning', 'data.jsonl'),
      '--epochs',
      '1',
      '--eval-split',
      '0',
      '--out',
      out,
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/task id/);
    expect(
      result.stderr
        .trim()
        .split('\n')
        .filter((line) => line.startsWith('peftjs: error:')),
    ).toHaveLength(1);
  });

  it('trains AdaLoRA and LN tuning adapters with --method, in PEFT files', async () => {
    for (const [method, extra, key] of [
      ['adalora', ['--init-r', '4', '--target-r', '2', '--total-step', '4', '--deltaT', '1'], 'base_model.model.model.layers.0.self_attn.q_proj.lora_E'],
      ['ln_tuning', [], 'base_model.model.model.norm.ln_tuning_layers.weight'],
    ] as const) {
      const out = join(work, `train-${method}`);
      const result = await cli(
        'train',
        '--method',
        method,
        '--base',
        fixture('llama-ln-tuning', 'base'),
        '--data',
        fixture('llama-ln-tuning', 'data.jsonl'),
        '--epochs',
        '1',
        '--batch-size',
        '2',
        '--eval-split',
        '0',
        ...extra,
        '--out',
        out,
        '--json',
      );
      expect(result.code, result.stderr).toBe(0);
      const config = JSON.parse(await readFile(join(out, 'adapter_config.json'), 'utf8'));
      expect(config.peft_type).toBe(method.toUpperCase());
      const tensors = await loadSafetensors(join(out, 'adapter_model.safetensors'));
      expect(Object.keys(tensors)).toContain(key);
      if (method === 'adalora') {
        // The training engine ran the rank allocator through the tuner's hook: 4 layers × target_r 2 triplets at most remain, and only those are saved.
        expect(config).toMatchObject({ init_r: 4, target_r: 2, total_step: 4, deltaT: 1 });
        const masks = Object.values(config.rank_pattern as Record<string, boolean[]>);
        expect(masks).toHaveLength(4);
        const kept = masks.reduce((sum, mask) => sum + mask.filter(Boolean).length, 0);
        expect(kept).toBeLessThanOrEqual(8);
        const saved = Object.entries(tensors)
          .filter(([name]) => name.endsWith('.lora_E'))
          .reduce((sum, [, tensor]) => sum + tensor.shape[0]!, 0);
        expect(saved).toBe(kept);
      }
      tf.dispose(Object.values(tensors));
    }
  });
});
