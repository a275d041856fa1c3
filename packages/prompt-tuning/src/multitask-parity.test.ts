import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdapterFormatError, InvalidConfigError, registerTuner, setWarningHandler, type PeftModel } from '@peftjs/core';
import { maxAbsDifference, maxCloseViolation } from '@peftjs/core/testing';
import { fromPretrained, loadSafetensors } from '@peftjs/hub';
import { AutoModelForCausalLM, generate } from '@peftjs/models';
import { peftCase, peftFixturePath } from '../../../test-fixtures/index';
import { forwardCausalLm, multitaskPromptTuning } from './index';

const CASE = 'gpt2-multitask-prompt-tuning';
const json = peftCase(CASE);
const { atol, rtol } = json as { atol: number; rtol: number };
let io: Record<string, tf.Tensor>;
let taskIds: number[];

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerTuner(multitaskPromptTuning);
  setWarningHandler(() => {});
  io = await loadSafetensors(peftFixturePath(CASE, 'io.safetensors'));
  taskIds = Array.from(await io.task_ids!.data());
});

afterAll(() => tf.dispose(Object.values(io)));

async function load(): Promise<PeftModel> {
  const base = await AutoModelForCausalLM.fromPretrained(peftFixturePath(CASE, 'base'));
  return fromPretrained(base, peftFixturePath(CASE, 'adapter'));
}

describe('gpt2-multitask-prompt-tuning parity with Python PEFT 0.11.1', () => {
  it('reproduces the logits with per-row task ids, with every row on each task, and disabled', async () => {
    const peftModel = await load();
    const before = tf.memory().numTensors;
    const inputs = { inputIds: io.input_ids!, attentionMask: io.attention_mask! };
    const { logits } = forwardCausalLm(peftModel, { ...inputs, taskIds });
    expect(logits.shape).toEqual([2, 12, 64]);
    expect(await maxCloseViolation(logits, io.expected_adapted!, atol, rtol)).toBe(0);
    for (const task of [0, 1, 2]) {
      const perTask = forwardCausalLm(peftModel, { ...inputs, taskIds: [task, task] }).logits;
      expect(await maxCloseViolation(perTask, io[`expected_adapted_task${task}`]!, atol, rtol), `task ${task}`).toBe(0);
      perTask.dispose();
    }
    // The same through PeftModel.predict with { taskIds }.
    const predicted = tf.tidy(() => peftModel.predict([tf.cast(io.input_ids!, 'int32'), tf.cast(io.attention_mask!, 'float32')], { taskIds }) as tf.Tensor);
    expect(await maxAbsDifference(predicted, logits)).toBe(0);
    const disabled = peftModel.disableAdapter(() => forwardCausalLm(peftModel, inputs).logits);
    expect(await maxCloseViolation(disabled, io.expected_disabled!, atol, rtol)).toBe(0);
    tf.dispose([logits, predicted, disabled]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reproduces the loss, and the data.jsonl loss with each row on its own task', async () => {
    const peftModel = await load();
    const before = tf.memory().numTensors;
    const { logits, loss } = forwardCausalLm(peftModel, { inputIds: io.input_ids!, attentionMask: io.attention_mask!, labels: io.input_ids!, taskIds });
    const expectedLoss = (await io.expected_loss!.data())[0]!;
    expect(Math.abs((await loss!.data())[0]! - expectedLoss)).toBeLessThanOrEqual(atol + rtol * Math.abs(expectedLoss));
    tf.dispose([logits, loss!]);
    const rows = readFileSync(peftFixturePath(CASE, 'data.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { input_ids: number[]; task_ids: number });
    const expected = json.expected_loss;
    let weighted = 0;
    let tokens = 0;
    for (const [index, row] of rows.entries()) {
      const ids = tf.tensor2d([row.input_ids], [1, row.input_ids.length], 'int32');
      const result = forwardCausalLm(peftModel, { inputIds: ids, labels: ids, taskIds: [row.task_ids] });
      const value = (await result.loss!.data())[0]!;
      tf.dispose([ids, result.logits, result.loss!]);
      expect(Math.abs(value - expected.adapted_row_losses[index])).toBeLessThanOrEqual(atol + rtol * Math.abs(expected.adapted_row_losses[index]));
      weighted += value * row.input_ids.length;
      tokens += row.input_ids.length;
    }
    expect(tokens).toBe(expected.adapted_predicted_tokens);
    expect(Math.abs(weighted / tokens - expected.adapted)).toBeLessThanOrEqual(atol + rtol * expected.adapted);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('generates the greedy ids with task ids, with the KV cache and without it', async () => {
    const peftModel = await load();
    const prompt = (await io.input_ids!.array()) as number[][];
    const expected = (await io.expected_greedy_adapted!.array()) as number[][];
    const options = { maxNewTokens: 6, doSample: false, padTokenId: 0, taskIds };
    expect(await generate(peftModel, prompt, options)).toEqual(expected);
    expect(await generate(peftModel, prompt, { ...options, useCache: false })).toEqual(expected);
  });

  it("runs a batch larger than tfjs predict()'s default batch size with one task id per row", async () => {
    const peftModel = await load();
    const rows = 40;
    const taskIdsOfRows = Array.from({ length: rows }, (_, row) => row % 3);
    const logits = tf.tidy(() => {
      const ids = tf.tile(tf.cast(io.input_ids!, 'int32'), [rows / 2, 1]);
      return peftModel.predict([ids, tf.cast(tf.onesLike(ids), 'float32')], { taskIds: taskIdsOfRows }) as tf.Tensor;
    });
    expect(logits.shape).toEqual([rows, 12, 64]);
    // Row 3 is input row 1 on task 0.
    const row = tf.tidy(() => tf.slice(logits, [3, 4, 0], [1, 1, 64]));
    const expected = tf.tidy(() => tf.slice(forwardCausalLm(peftModel, { inputIds: io.input_ids!, taskIds: [0, 0] }).logits, [1, 4, 0], [1, 1, 64]));
    expect(await maxAbsDifference(row, expected)).toBeLessThan(1e-4);
    tf.dispose([logits, row, expected]);
  });

  it('refuses missing, miscounted and out-of-range task ids with a typed error', async () => {
    const peftModel = await load();
    const before = tf.memory().numTensors;
    const inputs = { inputIds: io.input_ids!, attentionMask: io.attention_mask! };
    const refused = (run: () => unknown, message: RegExp) => {
      let thrown: unknown;
      try {
        run();
      } catch (error) {
        thrown = error;
      }
      expect(InvalidConfigError.isInstance(thrown), String(thrown)).toBe(true);
      expect((thrown as Error).message).toMatch(message);
    };
    refused(() => forwardCausalLm(peftModel, inputs), /task_ids cannot be None/);
    refused(() => forwardCausalLm(peftModel, { ...inputs, taskIds: [0] }), /taskIds has 1 entries but the batch has 2 rows/);
    refused(() => forwardCausalLm(peftModel, { ...inputs, taskIds: [0, 3] }), /task id 3 is out of range: the adapter has num_tasks 3 \(valid ids 0\.\.2\)/);
    refused(
      () => tf.tidy(() => peftModel.predict([tf.cast(io.input_ids!, 'int32'), tf.cast(io.attention_mask!, 'float32')], { taskIds: [1] }) as tf.Tensor),
      /taskIds has 1 entries/,
    );
    await expect(generate(peftModel, [[1, 2, 3]], { maxNewTokens: 1, taskIds: [7] })).rejects.toThrow(/task id 7 is out of range/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('saves the PEFT keys and shapes, and round-trips them', async () => {
    const peftModel = await load();
    expect(peftModel.getStateDictShapes()).toEqual(json.adapters[0].tensors);
    const saved = peftModel.getStateDict();
    const file = await loadSafetensors(peftFixturePath(CASE, 'adapter', 'adapter_model.safetensors'));
    for (const [key, value] of Object.entries(file)) expect(await maxAbsDifference(saved[key]!, value), key).toBe(0);
    const config = peftModel.tuner.serializeConfig(peftModel.peftConfig.default!);
    const written = JSON.parse(readFileSync(peftFixturePath(CASE, 'adapter', 'adapter_config.json'), 'utf8'));
    for (const key of Object.keys(written)) if (key !== 'inference_mode') expect(config[key], key).toEqual(written[key]);
    const missing = { ...saved };
    delete missing.prefix_task_rows;
    expect(() => peftModel.loadStateDict(missing)).toThrow(AdapterFormatError);
    const wrong = { ...saved, prefix_task_cols: tf.zeros([2, 4, 1]) };
    expect(() => peftModel.loadStateDict(wrong)).toThrow(/prefix_task_cols.*\[2, 4, 1\].*\[3, 4, 1\]/);
    tf.dispose([wrong.prefix_task_cols, ...Object.values(saved), ...Object.values(file)]);
  });
});
