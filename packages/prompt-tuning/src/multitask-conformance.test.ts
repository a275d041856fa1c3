import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeAll } from 'vitest';
import { registerTuner, setWarningHandler, type ForwardContext } from '@peftjs/core';
import { describeTunerConformance } from '@peftjs/core/testing';
import { pooledTinyLm, TINY_LLAMA, tinyInputs } from './__fixtures__/tiny-models';
import { multitaskPromptTuning } from './index';

/**
 * The kit runs forward passes without options, and multitask prompt tuning needs one task id per
 * row in every one (as PEFT raises without task_ids). So the whole suite runs inside a forward
 * context with task ids for the kit's batch of 2 — pushed on core's context stack (the one
 * withForwardContext uses) for the suite's duration, since the kit's tests are async.
 */
const SUITE_CONTEXT: ForwardContext = { taskIds: [1, 0] };
const contextStack = () => (globalThis as unknown as Record<symbol, Map<string, ForwardContext[]>>)[Symbol.for('peftjs.registries.v1')]!.get('forwardContext')!;

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerTuner(multitaskPromptTuning);
  setWarningHandler(() => {});
  contextStack().push(SUITE_CONTEXT);
});

afterAll(() => {
  const stack = contextStack();
  stack.splice(stack.lastIndexOf(SUITE_CONTEXT), 1);
});

const common = { makeInputs: () => tinyInputs(tf), identityAtInit: false, mergeable: false, stateDictKeys: ['prompt_embeddings', 'prefix_task_cols', 'prefix_task_rows'] };

describeTunerConformance(multitaskPromptTuning, [
  {
    name: 'GPT-2, 2 tasks, rank 2',
    makeModel: () => pooledTinyLm(),
    config: { num_virtual_tokens: 3, num_tasks: 2, num_ranks: 2 },
    otherConfig: { num_virtual_tokens: 2, num_tasks: 3 },
    ...common,
  },
  { name: 'Llama (GQA), 2 tasks', makeModel: () => pooledTinyLm(TINY_LLAMA), config: { num_virtual_tokens: 4, num_tasks: 2 }, ...common },
]);
