import * as tf from '@tensorflow/tfjs-core';
import type { PeftModel } from '@peftjs/core';
import type { TensorData } from '@peftjs/hub';
import { TrainableStateError } from './errors';
import { trainableParameters, type TrainableParameter } from './trainable-parameters';

/** Every trainable tensor's value in torch layout, by key (plain data, no tensors kept). */
export async function readTrainableState(peftModel: PeftModel, parameters: readonly TrainableParameter[] = trainableParameters(peftModel)): Promise<Record<string, TensorData>> {
  const result: Record<string, TensorData> = {};
  for (const entry of parameters) {
    const torch = entry.param.toTorch(entry.param.variable.read());
    try {
      result[entry.key] = { dtype: 'float32', shape: [...torch.shape], values: (await torch.data()) as Float32Array };
    } finally {
      torch.dispose();
    }
  }
  return result;
}

type StateValue = tf.Tensor | TensorData;

const shapeOf = (value: StateValue) => [...value.shape];
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((size, index) => size === b[index]);

/**
 * Checks a trainable state against the model: exactly the trainable keys, each in its torch
 * shape. Throws `makeError(message, key)` for the first missing, extra or mis-shaped key.
 */
export function checkTrainableState(
  parameters: readonly TrainableParameter[],
  state: Readonly<Record<string, StateValue>>,
  source: string,
  makeError: (message: string, key: string) => Error = (message, key) => new TrainableStateError(message, { key }),
): void {
  const expected = new Map(parameters.map((entry) => [entry.key, entry] as const));
  for (const entry of parameters) {
    const value = state[entry.key];
    if (!value) throw makeError(`${source} lacks the trainable tensor "${entry.key}" (shape [${entry.param.torchShape.join(', ')}])`, entry.key);
    if (!sameShape(shapeOf(value), entry.param.torchShape)) {
      throw makeError(`${source}: "${entry.key}" has shape [${shapeOf(value).join(', ')}], the model's is [${entry.param.torchShape.join(', ')}]`, entry.key);
    }
  }
  for (const key of Object.keys(state)) {
    if (!expected.has(key)) {
      const near = [...expected.keys()].filter((name) => name.split('.').slice(-2).join('.') === key.split('.').slice(-2).join('.')).slice(0, 3);
      throw makeError(
        `${source} holds "${key}", which is not a trainable tensor of this model${near.length > 0 ? ` (similar: ${near.join(', ')})` : ` (it has ${expected.size}: ${[...expected.keys()].slice(0, 3).join(', ')}${expected.size > 3 ? ', …' : ''})`}`,
        key,
      );
    }
  }
}

/**
 * Loads values over the trainable tensors (torch layouts, keyed like `trainableParameters`).
 * Everything is checked first: a missing, extra or mis-shaped key changes nothing.
 */
export function loadTrainableState(
  peftModel: PeftModel,
  state: Readonly<Record<string, StateValue>>,
  options: { source?: string; parameters?: readonly TrainableParameter[] } = {},
): void {
  const parameters = options.parameters ?? trainableParameters(peftModel);
  checkTrainableState(parameters, state, options.source ?? 'the trainable state');
  for (const entry of parameters) {
    const value = state[entry.key]!;
    const torch = value instanceof tf.Tensor ? value : tf.tensor(value.values as Float32Array, [...value.shape], 'float32');
    const converted = tf.tidy(() => tf.cast(entry.param.fromTorch(torch), 'float32'));
    entry.param.variable.write(converted);
    converted.dispose();
    if (torch !== value) torch.dispose();
  }
}
