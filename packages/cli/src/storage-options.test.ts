import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSafetensors } from '@peftjs/hub';
import { initBackend } from '@peftjs/runtime';
import { cli, fixture } from './__fixtures__/run';

let work: string;
beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  work = await mkdtemp(join(tmpdir(), 'peftjs-cli-storage-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('--dtype / --quantization (frozen weights outside the wasm heap)', () => {
  it('predict with bfloat16 and NF4 storage gives logits near float32', async () => {
    const ids = '[[1,2,3,4,5,6]]';
    const logits: Record<string, tf.Tensor> = {};
    for (const [name, flags] of [
      ['float32', []],
      ['bfloat16', ['--dtype', 'bfloat16']],
      ['nf4', ['--quantization', 'nf4', '--double-quant']],
    ] as const) {
      const output = join(work, `${name}.safetensors`);
      const result = await cli('predict', '--base', fixture('llama-lora', 'base'), '--adapter', fixture('llama-lora', 'adapter'), '--input-ids', ids, '--output', output, ...flags);
      expect(result.code, result.stderr).toBe(0);
      logits[name] = (await loadSafetensors(output)).logits!;
    }
    const difference = async (a: tf.Tensor, b: tf.Tensor) => (await tf.max(tf.abs(tf.sub(a, b))).data())[0]!;
    const scale = (await tf.max(tf.abs(logits.float32!)).data())[0]!;
    expect(await difference(logits.bfloat16!, logits.float32!)).toBeLessThan(0.02 * scale);
    expect(await difference(logits.nf4!, logits.float32!)).toBeLessThan(0.5 * scale);
    expect(await difference(logits.nf4!, logits.float32!)).toBeGreaterThan(0);
    tf.dispose(Object.values(logits));
  });

  it('generate and eval take the flags; merge into an NF4 store warns about rounding and writes the folder', async () => {
    const generated = await cli(
      'generate',
      '--base',
      fixture('gpt2-lora', 'base'),
      '--adapter',
      fixture('gpt2-lora', 'adapter'),
      '--input-ids',
      '[[1,2,3]]',
      '--max-new-tokens',
      '3',
      '--quantization',
      'int8',
    );
    expect(generated.code, generated.stderr).toBe(0);
    expect(JSON.parse(generated.stdout.trim())).toHaveLength(6);
    const evaluated = await cli('eval', '--base', fixture('llama-lora', 'base'), '--data', fixture('llama-lora', 'data.jsonl'), '--dtype', 'float16', '--json');
    expect(evaluated.code, evaluated.stderr).toBe(0);
    expect(Number.isFinite(JSON.parse(evaluated.stdout).loss)).toBe(true);
    const out = join(work, 'merged');
    const merged = await cli('merge', '--adapter', fixture('llama-lora', 'adapter'), '--base', fixture('llama-lora', 'base'), '--out', out, '--quantization', 'nf4');
    expect(merged.code, merged.stderr).toBe(0);
    expect(merged.stderr).toMatch(/Merge lora module to 4-bit linear may get different generations due to rounding errors/);
    expect(await readdir(out)).toContain('model.safetensors');
  });

  it('a run that will not fit stops before training with one line naming what is needed and what helps (exit 2)', async () => {
    const data = join(work, 'long.jsonl');
    await writeFile(data, `${JSON.stringify({ input_ids: Array.from({ length: 30000 }, (_, index) => index % 90) })}\n`.repeat(2));
    const result = await cli(
      'train',
      '--base',
      fixture('llama-lora', 'base'),
      '--data',
      data,
      '--out',
      join(work, 'never'),
      '--max-length',
      '30000',
      '--batch-size',
      '2',
      '--eval-split',
      '0',
    );
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(
      /not enough memory to train at batch 2 × 30000 tokens: needs [\d.]+ GiB of wasm heap for tfjs tensors, and the wasm heap holds at most 4.0 GiB; options that help: .*--gradient-checkpointing.*shorter rows \(--max-length\)/,
    );
  });

  it('bad values name the choices', async () => {
    const result = await cli('generate', '--base', fixture('gpt2-lora', 'base'), '--input-ids', '[[1]]', '--quantization', 'int4');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--quantization <type>' argument 'int4' is invalid. Allowed choices are int8, nf4, fp4/);
  });
});
