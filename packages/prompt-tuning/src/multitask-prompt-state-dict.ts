import * as tf from '@tensorflow/tfjs-core';
import { AdapterFormatError, type AdapterLayerEntry, type AdapterStateDictFormat, type ParamRef } from '@peftjs/core';
import { MultitaskPromptEmbedding } from './multitask-prompt-embedding-layer';
import { promptStateDictFormat } from './prompt-state-dict';

export const PREFIX_TASK_COLS_KEY = 'prefix_task_cols';
export const PREFIX_TASK_ROWS_KEY = 'prefix_task_rows';

function taskFactors(layers: readonly AdapterLayerEntry[], adapterName: string): Map<string, ParamRef> {
  for (const { layer } of layers) {
    if (layer instanceof MultitaskPromptEmbedding && layer.hasAdapter(adapterName)) {
      const { cols, rows } = layer.taskFactors(adapterName);
      return new Map([
        [PREFIX_TASK_COLS_KEY, cols],
        [PREFIX_TASK_ROWS_KEY, rows],
      ]);
    }
  }
  throw new AdapterFormatError(`the model holds no multitask prompt for adapter "${adapterName}"`);
}

function sameShape(value: tf.Tensor, expected: readonly number[]): boolean {
  return value.rank === expected.length && value.shape.every((size, index) => size === expected[index]);
}

/**
 * PEFT's multitask prompt-tuning format: the raw shared `prompt_embeddings` `[T, dim]` (not
 * multiplied by any task matrix) plus `prefix_task_cols` `[num_tasks, T, num_ranks]` and
 * `prefix_task_rows` `[num_tasks, num_ranks, dim]`, all un-prefixed. Every tensor is checked
 * before anything is written.
 */
export const multitaskPromptStateDictFormat: AdapterStateDictFormat = {
  shapes(layers, adapterName, defaults) {
    const shapes = promptStateDictFormat.shapes(layers, adapterName, defaults);
    for (const [key, param] of taskFactors(layers, adapterName)) shapes[key] = [...param.torchShape];
    return shapes;
  },
  save(layers, adapterName, defaults) {
    const tensors = promptStateDictFormat.save(layers, adapterName, defaults);
    for (const [key, param] of taskFactors(layers, adapterName)) tensors[key] = tf.tidy(() => param.toTorch(param.variable.read()));
    return tensors;
  },
  load(layers, adapterName, tensors, defaults) {
    const factors = taskFactors(layers, adapterName);
    for (const [key, param] of factors) {
      const value = tensors[key];
      if (!value) {
        throw new AdapterFormatError(
          `adapter "${adapterName}" is missing tensor "${key}" (MULTITASK_PROMPT_TUNING saves prompt_embeddings, prefix_task_cols and prefix_task_rows); it has: ${Object.keys(tensors).join(', ') || 'nothing'}`,
          {
            tensorName: key,
          },
        );
      }
      if (!sameShape(value, param.torchShape))
        throw new AdapterFormatError(`tensor "${key}" has shape [${value.shape.join(', ')}]; the model expects [${param.torchShape.join(', ')}]`, { tensorName: key });
    }
    const rest = Object.fromEntries(Object.entries(tensors).filter(([key]) => !factors.has(key)));
    // The shared prompt (and any modules_to_save copy) is checked and written by prompt tuning's format; only then the factors.
    promptStateDictFormat.load(layers, adapterName, rest, defaults);
    for (const [key, param] of factors) {
      const value = tf.tidy(() => param.fromTorch(tensors[key]!.dtype === 'float32' ? tensors[key]! : tf.cast(tensors[key]!, 'float32')));
      param.variable.write(value);
      value.dispose();
    }
  },
};
