import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { loadSafetensors } from '@peftjs/hub';
import { cliWorkFolder, describePythonAdapterCase } from './__fixtures__/python-adapter-case';
import { cli, fixture } from './__fixtures__/run';

const work = cliWorkFolder('new-methods');

// The AdaLoRA case has no data loss (its case.json records none).
describePythonAdapterCase('llama-adalora', ['predict', 'generate', 'merge'], work);
describePythonAdapterCase('llama-ln-tuning', ['predict', 'generate', 'eval', 'merge'], work);

describe('the CLI with the new methods', () => {
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

  it.each([
    ['AdaLoRA training without total_step, before any step', ['--method', 'adalora'], /needs total_step/],
    ['Poly training on rows without task ids', ['--method', 'poly', '--n-tasks', '2'], /task id/],
  ] as const)('refuses %s, with one error line and no adapter file', async (_, method, message) => {
    const out = join(work(), `train-refused-${method[1]}`);
    const data = fixture('llama-ln-tuning', 'data.jsonl');
    const result = await cli('train', ...method, '--base', fixture('llama-ln-tuning', 'base'), '--data', data, '--epochs', '1', '--eval-split', '0', '--out', out);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    const errorLines = result.stderr
      .trim()
      .split('\n')
      .filter((line) => line.startsWith('peftjs: error:'));
    expect(errorLines).toHaveLength(1);
    expect(existsSync(join(out, 'adapter_model.safetensors'))).toBe(false);
  });

  it('trains AdaLoRA and LN tuning adapters with --method, in PEFT files', async () => {
    for (const [method, extra, key] of [
      ['adalora', ['--init-r', '4', '--target-r', '2', '--total-step', '4', '--deltaT', '1'], 'base_model.model.model.layers.0.self_attn.q_proj.lora_E'],
      ['ln_tuning', [], 'base_model.model.model.norm.ln_tuning_layers.weight'],
    ] as const) {
      const out = join(work(), `train-${method}`);
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
