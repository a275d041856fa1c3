import * as tf from '@tensorflow/tfjs-core';
import { AdapterFormatError, warn, type AdapterLayerEntry, type AdapterStateDictFormat, type ParamRef } from '@peftjs/core';
import { AdaptedAttention, gateParamName, promptParamName, type AdaptedAttentionOptions } from './adapted-attention-layer';

/** PEFT's saved keys: `base_model.model.<attention module>.adaption_prompt` / `.adaption_gate` (no adapter name). */
export const ADAPTION_KEY_PREFIX = 'base_model.model.';

/** Every saved key of an adapter with the parameter it comes from. */
function adapterKeys(layers: readonly AdapterLayerEntry[], adapterName: string): Map<string, ParamRef> {
  const result = new Map<string, ParamRef>();
  for (const { layer } of layers) {
    if (!(layer instanceof AdaptedAttention) || !layer.hasAdapter(adapterName)) continue;
    const { modulePath } = layer.getAdapterOptions<AdaptedAttentionOptions>(adapterName);
    const params = layer.adapterParameters(adapterName);
    result.set(`${ADAPTION_KEY_PREFIX}${modulePath}.adaption_prompt`, params.get(promptParamName(adapterName))!);
    result.set(`${ADAPTION_KEY_PREFIX}${modulePath}.adaption_gate`, params.get(gateParamName(adapterName))!);
  }
  if (result.size === 0) throw new AdapterFormatError(`the model holds no adaption prompts for adapter "${adapterName}"`);
  return result;
}

function sameShape(value: tf.Tensor, expected: readonly number[]): boolean {
  return value.rank === expected.length && value.shape.every((size, index) => size === expected[index]);
}

/**
 * PEFT 0.11.1's adaption-prompt format: every key whose last segment starts with `adaption_`,
 * i.e. `adaption_prompt` `[1, adapter_len, hidden]` and `adaption_gate` `[1]` per adapted layer,
 * under the attention module's path. Loading checks every tensor before writing any.
 */
export const adaptionPromptStateDictFormat: AdapterStateDictFormat = {
  shapes(layers, adapterName) {
    return Object.fromEntries([...adapterKeys(layers, adapterName)].map(([key, param]) => [key, [...param.torchShape]]));
  },
  save(layers, adapterName) {
    return Object.fromEntries([...adapterKeys(layers, adapterName)].map(([key, param]) => [key, tf.tidy(() => param.toTorch(param.variable.read()))]));
  },
  load(layers, adapterName, tensors) {
    const expected = adapterKeys(layers, adapterName);
    const missing = [...expected.keys()].filter((key) => !(key in tensors));
    if (missing.length > 0) {
      throw new AdapterFormatError(
        `adapter "${adapterName}" is missing ${missing.length} tensor(s) the model expects: ${missing.join(', ')}; it has: ${Object.keys(tensors).join(', ') || 'nothing'} (is adapter_layers the same as when it was saved?)`,
        { tensorName: missing[0] },
      );
    }
    for (const [key, param] of expected) {
      const value = tensors[key]!;
      if (!sameShape(value, param.torchShape)) {
        throw new AdapterFormatError(`tensor "${key}" has shape [${value.shape.join(', ')}]; the model expects [${param.torchShape.join(', ')}]`, { tensorName: key });
      }
    }
    const unexpected = Object.keys(tensors).filter((key) => !expected.has(key));
    if (unexpected.length > 0) warn(`adapter "${adapterName}" has ${unexpected.length} tensor(s) the model does not use: ${unexpected.slice(0, 8).join(', ')}`);
    const values = [...expected].map(([key, param]) => ({
      param,
      value: tf.tidy(() => param.fromTorch(tensors[key]!.dtype === 'float32' ? tensors[key]! : tf.cast(tensors[key]!, 'float32'))),
    }));
    try {
      for (const { param, value } of values) param.variable.write(value);
    } finally {
      tf.dispose(values.map(({ value }) => value));
    }
  },
};
