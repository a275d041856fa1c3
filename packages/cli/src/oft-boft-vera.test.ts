import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliWorkFolder, describePythonAdapterCase } from './__fixtures__/python-adapter-case';
import { cli, REPO_ROOT } from './__fixtures__/run';

const work = cliWorkFolder('oft-boft-vera');

describePythonAdapterCase('llama-vera', ['predict', 'generate', 'eval', 'merge'], work);

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
      const out = join(work(), `tiny-${method}`);
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
      const predicted = await cli(
        'predict',
        '--base',
        tinyBase,
        '--adapter',
        out,
        '--input-ids',
        '[[1, 2, 3, 4]]',
        '--output',
        join(work(), `tiny-${method}.safetensors`),
        '--json',
      );
      expect(predicted.code, predicted.stderr).toBe(0);
    }, 300_000);
  }
});
