import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, expect, it } from 'vitest';
import { currentForwardContext, InvalidConfigError } from '@peftjs/core';
import { generate } from './index';

/** An identity layer that records the task ids each forward pass sees. */
class TaskIdRecorder extends tfl.layers.Layer {
  static className = 'TaskIdRecorder';
  readonly seen: Array<readonly number[] | undefined> = [];
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    this.seen.push(currentForwardContext()?.taskIds);
    return tf.clone(Array.isArray(inputs) ? inputs[0]! : inputs);
  }
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

it('generate passes taskIds to the layers on every step, and refuses a miscount', async () => {
  const ids = tfl.input({ shape: [null], dtype: 'int32', name: 'input_ids' });
  const recorder = new TaskIdRecorder({});
  const embedded = tfl.layers.embedding({ inputDim: 10, outputDim: 10, embeddingsInitializer: 'randomNormal' }).apply(ids) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: ids, outputs: recorder.apply(embedded) as tfl.SymbolicTensor });
  const before = tf.memory().numTensors;
  const sequences = await generate(
    model,
    [
      [1, 2],
      [3, 4],
    ],
    { maxNewTokens: 3, taskIds: [1, 0], eosTokenId: null, useCache: false },
  );
  expect(sequences.map((row) => row.length)).toEqual([5, 5]);
  expect(recorder.seen.slice(-3)).toEqual([
    [1, 0],
    [1, 0],
    [1, 0],
  ]);
  await generate(model, [[1, 2]], { maxNewTokens: 1, eosTokenId: null });
  expect(recorder.seen.at(-1)).toBeUndefined();
  await expect(
    generate(
      model,
      [
        [1, 2],
        [3, 4],
      ],
      { maxNewTokens: 1, taskIds: [0] },
    ),
  ).rejects.toSatisfy((error: unknown) => InvalidConfigError.isInstance(error) && /taskIds has 1 entries but the batch has 2 rows/.test(String(error)));
  await expect(generate(model, [[1, 2]], { maxNewTokens: 1, taskIds: [-1] })).rejects.toThrow(/task id -1 is not a non-negative integer/);
  expect(tf.memory().numTensors).toBe(before);
});
