import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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
  work = await mkdtemp(join(tmpdir(), 'peftjs-cli-tasks-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function violation(actual: tf.Tensor, expected: tf.Tensor, atol: number, rtol: number): Promise<number> {
  const excess = tf.tidy(() => tf.max(tf.sub(tf.abs(tf.sub(actual, expected)), tf.add(atol, tf.mul(rtol, tf.abs(expected))))));
  const [value] = await excess.data();
  excess.dispose();
  return value!;
}

const caseJson = async (name: string) => JSON.parse(await readFile(fixture(name, 'case.json'), 'utf8'));

describe('adaption prompt through the CLI (llama-adaption-prompt)', () => {
  const name = 'llama-adaption-prompt';
  const model = ['--base', fixture(name, 'base'), '--adapter', fixture(name, 'adapter')];

  it('predict writes the adapted logits, generate the greedy ids, eval the data.jsonl loss', async () => {
    const io = await loadSafetensors(fixture(name, 'io.safetensors'));
    const { atol, rtol, expected_loss: expectedLoss } = await caseJson(name);
    const ids = JSON.stringify(await io.input_ids!.array());
    const output = join(work, 'adaption-logits.safetensors');
    const predicted = await cli('predict', ...model, '--input-ids', ids, '--attention-mask', JSON.stringify(await io.attention_mask!.array()), '--output', output);
    expect(predicted.code, predicted.stderr).toBe(0);
    const { logits } = await loadSafetensors(output);
    expect(await violation(logits!, io.expected_adapted!, atol, rtol)).toBeLessThanOrEqual(0);
    const generated = await cli('generate', ...model, '--input-ids', ids, '--max-new-tokens', '6', '--pad-token-id', '0', '--json');
    expect(generated.code, generated.stderr).toBe(0);
    expect(JSON.parse(generated.stdout).sequences).toEqual(await io.expected_greedy_adapted!.array());
    const evaluated = await cli('eval', ...model, '--data', fixture(name, 'data.jsonl'), '--json');
    expect(evaluated.code, evaluated.stderr).toBe(0);
    const result = JSON.parse(evaluated.stdout);
    expect(result.tokens).toBe(expectedLoss.adapted_predicted_tokens);
    expect(Math.abs(result.loss - expectedLoss.adapted)).toBeLessThanOrEqual(atol + rtol * expectedLoss.adapted);
    tf.dispose([logits!, ...Object.values(io)]);
  });

  it("train makes an adapter in PEFT's layout", async () => {
    const out = join(work, 'adaption');
    const trained = await cli(
      'train',
      '--base',
      fixture(name, 'base'),
      '--data',
      fixture(name, 'data.jsonl'),
      '--method',
      'adaption-prompt',
      '--adapter-len',
      '3',
      '--adapter-layers',
      '2',
      '--epochs',
      '1',
      '--out',
      out,
    );
    expect(trained.code, trained.stderr).toBe(0);
    const info = JSON.parse((await cli('inspect', out, '--json')).stdout);
    expect(info.peft_type).toBe('ADAPTION_PROMPT');
    expect(info.tensors.map((tensor: { name: string; shape: number[] }) => [tensor.name, tensor.shape])).toEqual([
      ['base_model.model.model.layers.0.self_attn.adaption_gate', [1]],
      ['base_model.model.model.layers.0.self_attn.adaption_prompt', [1, 3, 16]],
      ['base_model.model.model.layers.1.self_attn.adaption_gate', [1]],
      ['base_model.model.model.layers.1.self_attn.adaption_prompt', [1, 3, 16]],
    ]);
  });
});

describe('per-row task ids through the CLI (gpt2-multitask-prompt-tuning)', () => {
  const name = 'gpt2-multitask-prompt-tuning';
  const model = ['--base', fixture(name, 'base'), '--adapter', fixture(name, 'adapter')];

  it('predict --task-ids, generate --task-ids and eval with "task_ids" rows match PEFT', async () => {
    const io = await loadSafetensors(fixture(name, 'io.safetensors'));
    const { atol, rtol, expected_loss: expectedLoss } = await caseJson(name);
    const ids = JSON.stringify(await io.input_ids!.array());
    const taskIds = JSON.stringify(Array.from(await io.task_ids!.data()));
    const output = join(work, 'multitask-logits.safetensors');
    const predicted = await cli(
      'predict',
      ...model,
      '--input-ids',
      ids,
      '--attention-mask',
      JSON.stringify(await io.attention_mask!.array()),
      '--task-ids',
      taskIds,
      '--output',
      output,
    );
    expect(predicted.code, predicted.stderr).toBe(0);
    const { logits } = await loadSafetensors(output);
    expect(logits!.shape).toEqual([2, 12, 64]);
    expect(await violation(logits!, io.expected_adapted!, atol, rtol)).toBeLessThanOrEqual(0);
    const everyRowOnTask1 = join(work, 'multitask-task1.safetensors');
    expect(
      (await cli('predict', ...model, '--input-ids', ids, '--attention-mask', JSON.stringify(await io.attention_mask!.array()), '--task-ids', '1', '--output', everyRowOnTask1))
        .code,
    ).toBe(0);
    const task1 = (await loadSafetensors(everyRowOnTask1)).logits!;
    expect(await violation(task1, io.expected_adapted_task1!, atol, rtol)).toBeLessThanOrEqual(0);
    const generated = await cli('generate', ...model, '--input-ids', ids, '--task-ids', taskIds, '--max-new-tokens', '6', '--pad-token-id', '0', '--json');
    expect(generated.code, generated.stderr).toBe(0);
    expect(JSON.parse(generated.stdout).sequences).toEqual(await io.expected_greedy_adapted!.array());
    const evaluated = await cli('eval', ...model, '--data', fixture(name, 'data.jsonl'), '--json', '--batch-size', '1');
    expect(evaluated.code, evaluated.stderr).toBe(0);
    const result = JSON.parse(evaluated.stdout);
    expect(result.tokens).toBe(expectedLoss.adapted_predicted_tokens);
    expect(Math.abs(result.loss - expectedLoss.adapted)).toBeLessThanOrEqual(atol + rtol * expectedLoss.adapted);
    tf.dispose([logits!, task1, ...Object.values(io)]);
  });

  it('refuses a missing, miscounted or out-of-range --task-ids with a clear message', async () => {
    const ids = JSON.stringify([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const output = join(work, 'refused.safetensors');
    const missing = await cli('predict', ...model, '--input-ids', ids, '--output', output);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/task_ids cannot be None/);
    const miscounted = await cli('predict', ...model, '--input-ids', ids, '--task-ids', '[0]', '--output', output);
    expect(miscounted.code).toBe(2);
    expect(miscounted.stderr).toMatch(/--task-ids has 1 entries but the batch has 2 rows/);
    const outOfRange = await cli('generate', ...model, '--input-ids', ids, '--task-ids', '[0, 3]', '--max-new-tokens', '2');
    expect(outOfRange.code).toBe(2);
    expect(outOfRange.stderr).toMatch(/task id 3 is out of range: the adapter has num_tasks 3/);
    const notJson = await cli('predict', ...model, '--input-ids', ids, '--task-ids', 'first', '--output', output);
    expect(notJson.stderr).toMatch(/--task-ids must be JSON/);
  });

  it('train reads each row\'s "task_ids" and makes an adapter in PEFT\'s layout', async () => {
    const out = join(work, 'multitask');
    const trained = await cli(
      'train',
      '--base',
      fixture(name, 'base'),
      '--data',
      fixture(name, 'data.jsonl'),
      '--method',
      'multitask-prompt-tuning',
      '--num-virtual-tokens',
      '4',
      '--num-tasks',
      '3',
      '--num-ranks',
      '2',
      '--epochs',
      '1',
      '--out',
      out,
    );
    expect(trained.code, trained.stderr).toBe(0);
    const info = JSON.parse((await cli('inspect', out, '--json')).stdout);
    expect(info.peft_type).toBe('MULTITASK_PROMPT_TUNING');
    expect(Object.fromEntries(info.tensors.map((tensor: { name: string; shape: number[] }) => [tensor.name, tensor.shape]))).toEqual({
      prompt_embeddings: [4, 16],
      prefix_task_cols: [3, 4, 2],
      prefix_task_rows: [3, 2, 16],
    });
  });

  it('train starts a target task from a source adapter (--prompt-tuning-init AVERAGE_SOURCE_TASKS)', async () => {
    const out = join(work, 'multitask-from-source');
    const source = fixture(name, 'adapter', 'adapter_model.safetensors');
    const rows = join(work, 'one-task.jsonl');
    await writeFile(rows, (await readFile(fixture(name, 'data.jsonl'), 'utf8')).replace(/"task_ids": \d+/g, '"task_ids": 0'));
    const trained = await cli(
      'train',
      '--base',
      fixture(name, 'base'),
      '--data',
      rows,
      '--method',
      'multitask-prompt-tuning',
      '--num-virtual-tokens',
      '4',
      '--prompt-tuning-init',
      'AVERAGE_SOURCE_TASKS',
      '--prompt-tuning-init-state-dict-path',
      source,
      '--epochs',
      '1',
      '--lr',
      '1e-9',
      '--out',
      out,
    );
    expect(trained.code, trained.stderr).toBe(0);
    const saved = await loadSafetensors(join(out, 'adapter_model.safetensors'));
    const original = await loadSafetensors(source);
    const averaged = tf.mean(original.prefix_task_cols!, 0, true);
    expect(saved.prefix_task_cols!.shape).toEqual([1, 4, 1]);
    expect(await violation(saved.prefix_task_cols!, averaged, 1e-5, 0)).toBeLessThanOrEqual(0);
    expect(await violation(saved.prompt_embeddings!, original.prompt_embeddings!, 1e-5, 0)).toBeLessThanOrEqual(0);
    tf.dispose([averaged, ...Object.values(saved), ...Object.values(original)]);
  });
});
