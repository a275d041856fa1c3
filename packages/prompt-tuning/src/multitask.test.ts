import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdapterFormatError, getPeftModel, InvalidConfigError, registerTuner, setWarningHandler } from '@peftjs/core';
import { maxAbsDifference } from '@peftjs/core/testing';
import { loadSafetensors } from '@peftjs/hub';
import { AutoModelForCausalLM, AutoTokenizer, modelFromConfig } from '@peftjs/models';
import { peftFixturePath } from '../../../test-fixtures/index';
import { createMultitaskPromptTuningConfig, forwardCausalLm, loadMultitaskPromptTuningSource, multitaskPromptTuning } from './index';

const SOURCE = peftFixturePath('gpt2-multitask-prompt-tuning', 'adapter', 'adapter_model.safetensors');
const GPT2 = { model_type: 'gpt2', n_layer: 2, n_embd: 16, n_head: 2, vocab_size: 64, n_positions: 32 };
let source: Record<string, tf.Tensor>;

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerTuner(multitaskPromptTuning);
  setWarningHandler(() => {});
  source = await loadSafetensors(SOURCE);
});

afterAll(() => tf.dispose(Object.values(source)));

describe('multitask prompt tuning from a source adapter (prompt_tuning_init_state_dict_path)', () => {
  const build = async (options: Record<string, unknown>) => {
    const config = await loadMultitaskPromptTuningSource(
      createMultitaskPromptTuningConfig({ numVirtualTokens: 4, promptTuningInitStateDictPath: SOURCE, ...options }),
      loadSafetensors,
    );
    return getPeftModel(modelFromConfig(GPT2, 'causal-lm', { seed: 1 }), config);
  };

  it('AVERAGE_SOURCE_TASKS: the shared prompt, and the task factors averaged over the source tasks', async () => {
    const peftModel = await build({ promptTuningInit: 'AVERAGE_SOURCE_TASKS' });
    const state = peftModel.getStateDict();
    expect(await maxAbsDifference(state.prompt_embeddings!, source.prompt_embeddings!)).toBe(0);
    const averaged = tf.mean(source.prefix_task_cols!, 0, true);
    expect(state.prefix_task_cols!.shape).toEqual([1, 4, 1]);
    expect(await maxAbsDifference(state.prefix_task_cols!, averaged)).toBeLessThan(1e-7);
    // One task: every row runs on task 0.
    const ids = tf.tensor2d(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      undefined,
      'int32',
    );
    const { logits } = forwardCausalLm(peftModel, { inputIds: ids, taskIds: [0, 0] });
    expect(logits.shape).toEqual([2, 7, 64]);
    expect(() => forwardCausalLm(peftModel, { inputIds: ids, taskIds: [0, 1] })).toThrow(/task id 1 is out of range: the adapter has num_tasks 1/);
    tf.dispose([averaged, ids, logits, ...Object.values(state)]);
  });

  it('EXACT_SOURCE_TASK: the factors of prompt_tuning_init_task', async () => {
    const peftModel = await build({ promptTuningInit: 'EXACT_SOURCE_TASK', promptTuningInitTask: 2 });
    const state = peftModel.getStateDict();
    const task = tf.slice(source.prefix_task_rows!, [2], [1]);
    expect(await maxAbsDifference(state.prefix_task_rows!, task)).toBe(0);
    tf.dispose([task, ...Object.values(state)]);
  });

  it('ONLY_SOURCE_SHARED: the shared prompt only, the task factors stay random', async () => {
    const peftModel = await build({ promptTuningInit: 'ONLY_SOURCE_SHARED', numTasks: 3 });
    const state = peftModel.getStateDict();
    expect(await maxAbsDifference(state.prompt_embeddings!, source.prompt_embeddings!)).toBe(0);
    expect(await maxAbsDifference(state.prefix_task_cols!, source.prefix_task_cols!)).toBeGreaterThan(0.1);
    tf.dispose(Object.values(state));
  });

  it('refuses what PEFT 0.11.1 cannot load, before touching the model', async () => {
    const model = modelFromConfig(GPT2, 'causal-lm', { seed: 1 });
    const layers = model.layers.length;
    const attempt = async (options: Record<string, unknown>) => {
      try {
        getPeftModel(
          model,
          await loadMultitaskPromptTuningSource(createMultitaskPromptTuningConfig({ numVirtualTokens: 4, promptTuningInitStateDictPath: SOURCE, ...options }), loadSafetensors),
        );
      } catch (error) {
        return error;
      }
      return undefined;
    };
    expect(InvalidConfigError.isInstance(await attempt({ promptTuningInit: 'AVERAGE_SOURCE_TASKS', numTasks: 3 }))).toBe(true);
    expect(String(await attempt({ promptTuningInit: 'EXACT_SOURCE_TASK', promptTuningInitTask: 5 }))).toMatch(/prompt_tuning_init_task 5 is out of range/);
    expect(AdapterFormatError.isInstance(await attempt({ promptTuningInit: 'AVERAGE_SOURCE_TASKS', numVirtualTokens: 5 }))).toBe(true);
    expect(String(await attempt({ promptTuningInit: 'AVERAGE_SOURCE_TASKS', promptTuningInitStateDictPath: null }))).toMatch(/needs to be specified with AVERAGE_SOURCE_TASKS/);
    expect(String(await attempt({ promptTuningInit: 'AVERAGE_SOURCE_TASKS', promptTuningInitStateDictPath: 'source.bin' }))).toMatch(/not a \.safetensors file/);
    // Without loading the file first: a clear hint, not a silent random init.
    expect(() =>
      getPeftModel(model, createMultitaskPromptTuningConfig({ numVirtualTokens: 4, promptTuningInit: 'AVERAGE_SOURCE_TASKS', promptTuningInitStateDictPath: SOURCE })),
    ).toThrow(/loadMultitaskPromptTuningSource/);
    expect(model.layers.length).toBe(layers);
    // A trained adapter being loaded (inference mode) brings its own tensors and needs no source.
    const loaded = getPeftModel(model, {
      ...createMultitaskPromptTuningConfig({ numVirtualTokens: 4, numTasks: 1, promptTuningInit: 'AVERAGE_SOURCE_TASKS', promptTuningInitStateDictPath: 'gone.safetensors' }),
      inferenceMode: true,
    });
    expect(loaded.getStateDictShapes().prefix_task_cols).toEqual([1, 4, 1]);
  });
});

it('a short training run on the tiny LM example with per-row task ids lowers the loss and moves only the prompt and task factors', async () => {
  const dir = fileURLToPath(new URL('../../../examples/tiny-lm/base', import.meta.url));
  const tokenizer = await AutoTokenizer.fromPretrained(dir);
  const rows = readFileSync(fileURLToPath(new URL('../../../examples/tiny-lm/data/qa-train.jsonl', import.meta.url)), 'utf8')
    .trim()
    .split('\n')
    .slice(0, 8)
    .map((line) => JSON.parse(line) as { prompt: string; completion: string })
    .map((row) => tokenizer.encode(row.prompt + row.completion).inputIds);
  const length = Math.min(...rows.map((row) => row.length));
  const ids = tf.tensor2d(
    rows.map((row) => row.slice(0, length)),
    [rows.length, length],
    'int32',
  );
  const taskIds = rows.map((_, index) => index % 2);
  const peftModel = getPeftModel(
    await AutoModelForCausalLM.fromPretrained(dir),
    createMultitaskPromptTuningConfig({ numVirtualTokens: 4, numTasks: 2, numRanks: 2, taskType: 'CAUSAL_LM' }),
  );
  const frozen = peftModel.model.weights.filter((weight) => !weight.trainable).map((weight) => [weight, weight.read().clone()] as const);
  const lossOf = (training: boolean) => forwardCausalLm(peftModel, { inputIds: ids, labels: ids, taskIds, training });
  const first = lossOf(false);
  const initial = (await first.loss!.data())[0]!;
  tf.dispose([first.logits, first.loss!]);
  const optimizer = tf.train.adam(0.05);
  const variables = peftModel.model.trainableWeights.map((weight) => weight.read() as tf.Variable);
  expect(variables.length).toBe(3);
  for (let step = 0; step < 10; step++) {
    tf.tidy(() => {
      optimizer.minimize(
        () => {
          const { logits, loss } = lossOf(true);
          logits.dispose();
          return loss!;
        },
        false,
        variables,
      );
    });
  }
  optimizer.dispose();
  const last = lossOf(false);
  const final = (await last.loss!.data())[0]!;
  tf.dispose([last.logits, last.loss!]);
  expect(final).toBeLessThan(initial - 0.1);
  for (const [weight, value] of frozen) {
    const moved = tf.tidy(() => tf.any(tf.notEqual(weight.read(), value)));
    expect((await moved.data())[0], `${weight.name} moved`).toBe(0);
    tf.dispose([moved, value]);
  }
  console.log(`multitask prompt tuning on examples/tiny-lm: loss ${initial.toFixed(4)} → ${final.toFixed(4)} in 10 Adam steps`);
  ids.dispose();
});
