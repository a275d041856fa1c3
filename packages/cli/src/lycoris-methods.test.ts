import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { loadSafetensors } from '@peftjs/hub';
import { cliWorkFolder, describePythonAdapterCase } from './__fixtures__/python-adapter-case';
import { cli, fixture, REPO_ROOT } from './__fixtures__/run';

// LoHa and LoKr through the CLI: the flags come from their configs, and predict, merge,
// generate and eval take their adapter folders as they take LoRA's.
const work = cliWorkFolder('lycoris');

describePythonAdapterCase('llama-lokr', ['predict', 'generate', 'eval', 'merge'], work);

describe('LoKr adapter folder of Python PEFT (llama-lokr) through the CLI', () => {
  it('inspect names the method', async () => {
    const result = await cli('inspect', fixture('llama-lokr', 'adapter'));
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/method: lokr \(peft_type LOKR\)/);
  });
});

describe('train --method loha / lokr on the tiny LM example', () => {
  const base = `${REPO_ROOT}examples/tiny-lm/base`;
  const data = `${REPO_ROOT}examples/tiny-lm/data/qa-train.jsonl`;
  it.each([
    ['loha', ['--r', '4', '--alpha', '8', '--rank-dropout', '0.1'], { peft_type: 'LOHA', r: 4, alpha: 8, rank_dropout: 0.1 }],
    ['lokr', ['--r', '4', '--decompose-both', 'true', '--module-dropout', '0.05'], { peft_type: 'LOKR', r: 4, decompose_both: true, module_dropout: 0.05 }],
  ] as const)(
    '%s: flags from the config, the held-out loss falls, and eval takes the folder',
    async (method, flags, config) => {
      const out = join(work(), `tiny-${method}`);
      const result = await cli(
        'train',
        '--base',
        base,
        '--data',
        data,
        '--out',
        out,
        '--method',
        method,
        '--target-modules',
        'q_proj,v_proj',
        ...flags,
        '--epochs',
        '2',
        '--batch-size',
        '8',
        '--lr',
        '0.005',
        '--eval-split',
        '16',
        '--max-length',
        '48',
        '--seed',
        '3',
        '--no-progress',
        '--json',
      );
      expect(result.code, result.stderr).toBe(0);
      const log = JSON.parse(await readFile(join(out, 'training_log.json'), 'utf8'));
      const losses = log.evals.map((entry: { loss: number }) => entry.loss);
      expect(losses.at(-1)).toBeLessThan(losses[0] - 0.05);
      const saved = JSON.parse(await readFile(join(out, 'adapter_config.json'), 'utf8'));
      expect(saved).toMatchObject({ ...config, target_modules: expect.arrayContaining(['q_proj', 'v_proj']) });
      const tensors = await loadSafetensors(join(out, 'adapter_model.safetensors'));
      expect(Object.keys(tensors).every((key) => key.includes(method === 'loha' ? '.hada_' : '.lokr_'))).toBe(true);
      tf.dispose(Object.values(tensors));
      const evaluated = await cli('eval', '--base', base, '--adapter', out, '--data', `${REPO_ROOT}examples/tiny-lm/data/qa-eval.jsonl`, '--json');
      expect(evaluated.code, evaluated.stderr).toBe(0);
      const baseline = await cli('eval', '--base', base, '--data', `${REPO_ROOT}examples/tiny-lm/data/qa-eval.jsonl`, '--json');
      expect(JSON.parse(evaluated.stdout).loss).toBeLessThan(JSON.parse(baseline.stdout).loss);
      console.log(
        `${method}: held-out loss by epoch ${losses.map((value: number) => value.toFixed(4)).join(' → ')}; qa-eval ${JSON.parse(baseline.stdout).loss.toFixed(4)} → ${JSON.parse(evaluated.stdout).loss.toFixed(4)}`,
      );
    },
    300_000,
  );

  it('help lists the LyCORIS fields as flags', async () => {
    const result = await cli('train', '--help');
    for (const flag of ['--alpha <value>', '--rank-dropout', '--module-dropout', '--use-effective-conv2d', '--init-weights', '--decompose-both', '--decompose-factor'])
      expect(result.stdout).toContain(flag);
  });
});
