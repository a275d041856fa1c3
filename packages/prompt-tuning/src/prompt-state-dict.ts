import * as tf from '@tensorflow/tfjs-core';
import { AdapterFormatError, layerParameters, ModulesToSaveLayer, warn, type AdapterLayerEntry, type AdapterStateDictFormat, type ParamRef } from '@peftjs/core';
import { PrefixAttention } from './prefix-attention-layer';
import { PromptEmbedding } from './prompt-embedding-layer';
import type { PromptSource } from './prompt-source';

/** PEFT's key for every prompt-learning adapter: one tensor, no `base_model.` prefix. */
export const PROMPT_EMBEDDINGS_KEY = 'prompt_embeddings';

/**
 * Where PEFT puts a modules_to_save copy of a prompt-learning model (the SEQ_CLS classifier):
 * its `base_model` is the transformers model itself, so the key is `base_model.<path>.<name>`
 * (no `.model.` as for layer tuners).
 */
export const PROMPT_MODULES_TO_SAVE_PREFIX = 'base_model.';

/** The layer that holds an adapter's virtual tokens: the prompt embedding, or the first prefix attention. */
export function promptSourceOf(layers: readonly AdapterLayerEntry[], adapterName: string): PromptSource {
  for (const { layer } of layers) {
    if (!layer.hasAdapter(adapterName)) continue;
    if (layer instanceof PromptEmbedding) return layer.promptSource(adapterName);
    if (layer instanceof PrefixAttention && layer.ownsSource(adapterName)) return layer.promptSource(adapterName);
  }
  throw new AdapterFormatError(`the model holds no virtual tokens for adapter "${adapterName}"`);
}

/** The adapter's modules_to_save copies (the SEQ_CLS classifier) by saved key, torch-named. */
function modulesToSaveParams(layers: readonly AdapterLayerEntry[], adapterName: string): Map<string, ParamRef> {
  const result = new Map<string, ParamRef>();
  for (const { path, layer } of layers) {
    if (!ModulesToSaveLayer.isModulesToSaveLayer(layer) || !layer.hasAdapter(adapterName)) continue;
    for (const [name, param] of layerParameters(layer.module(adapterName))) result.set(`${PROMPT_MODULES_TO_SAVE_PREFIX}${path}.${name}`, param);
  }
  return result;
}

function sameShape(value: tf.Tensor, expected: readonly number[]): boolean {
  return value.rank === expected.length && value.shape.every((size, index) => size === expected[index]);
}

/**
 * PEFT's prompt-learning save format: `prompt_embeddings` — the virtual-token embedding for
 * prompt tuning `[nvt·submodules, token_dim]`, the encoder OUTPUT for P-tuning (and for prefix
 * tuning with a projection), `[nvt, num_layers·2·token_dim]` for prefix tuning — plus, for
 * sequence classification, the trained classifier under `base_model.classifier.*`.
 */
export const promptStateDictFormat: AdapterStateDictFormat = {
  shapes(layers, adapterName) {
    const shapes: Record<string, number[]> = { [PROMPT_EMBEDDINGS_KEY]: [...promptSourceOf(layers, adapterName).shape] };
    for (const [key, param] of modulesToSaveParams(layers, adapterName)) shapes[key] = [...param.torchShape];
    return shapes;
  },
  save(layers, adapterName) {
    const source = promptSourceOf(layers, adapterName);
    const tensors: Record<string, tf.Tensor> = { [PROMPT_EMBEDDINGS_KEY]: tf.tidy(() => source.output(false).clone()) };
    for (const [key, param] of modulesToSaveParams(layers, adapterName)) tensors[key] = tf.tidy(() => param.toTorch(param.variable.read()));
    return tensors;
  },
  load(layers, adapterName, tensors) {
    const source = promptSourceOf(layers, adapterName);
    const expected = new Map<string, readonly number[]>([[PROMPT_EMBEDDINGS_KEY, source.shape]]);
    const copies = modulesToSaveParams(layers, adapterName);
    for (const [key, param] of copies) expected.set(key, param.torchShape);
    const missing = [...expected.keys()].filter((key) => !(key in tensors));
    if (missing.length > 0) {
      throw new AdapterFormatError(
        `adapter "${adapterName}" is missing ${missing.length} tensor(s) the model expects: ${missing.join(', ')}; it has: ${Object.keys(tensors).join(', ') || 'nothing'}`,
        {
          tensorName: missing[0],
        },
      );
    }
    for (const [key, shape] of expected) {
      const value = tensors[key]!;
      if (!sameShape(value, shape))
        throw new AdapterFormatError(`tensor "${key}" has shape [${value.shape.join(', ')}]; the model expects [${shape.join(', ')}]`, { tensorName: key });
    }
    const unexpected = Object.keys(tensors).filter((key) => !expected.has(key));
    if (unexpected.length > 0) warn(`adapter "${adapterName}" has ${unexpected.length} tensor(s) the model does not use: ${unexpected.slice(0, 8).join(', ')}`);
    // Everything checked: convert, then write.
    const asFloat = (value: tf.Tensor) => (value.dtype === 'float32' ? value.clone() : tf.cast(value, 'float32'));
    const converted = [...copies].map(([key, param]) => ({ param, value: tf.tidy(() => param.fromTorch(asFloat(tensors[key]!))) }));
    const prompt = asFloat(tensors[PROMPT_EMBEDDINGS_KEY]!);
    try {
      source.load(prompt);
      for (const { param, value } of converted) param.variable.write(value);
    } finally {
      tf.dispose([prompt, ...converted.map(({ value }) => value)]);
    }
  },
};
