import { TunerLayer, type AdapterParameterContext } from '@peftjs/core';
import type { LoraConfig } from './lora-config';

/**
 * LoRA's `bias` option, as PEFT's mark_only_lora_as_trainable: 'all' trains every bias of the
 * model (not the modules_to_save originals), 'lora_only' the biases of the layers LoRA wraps.
 */
export function loraTrainableBiases(config: LoraConfig, context: AdapterParameterContext): string[] {
  if (config.bias === 'all') return [...context.parameters.keys()].filter((key) => key.endsWith('bias') && !key.includes('original_module.'));
  if (config.bias !== 'lora_only') return [];
  return context.layers
    .filter(({ layer }) => TunerLayer.isTunerLayer(layer) && layer.hasAdapter(context.adapterName))
    .map(({ path }) => `${path}.base_layer.bias`)
    .filter((key) => context.parameters.has(key));
}

/**
 * The biases PEFT's get_peft_model_state_dict saves beside the LoRA weights: with 'all' every
 * parameter named like a bias, with 'lora_only' the bias of each layer holding LoRA weights.
 */
export function loraSavedBiases(config: LoraConfig, context: AdapterParameterContext, weightPrefix: string): string[] {
  const names = [...context.parameters.keys()];
  if (config.bias === 'all') return names.filter((name) => name.includes('bias'));
  if (config.bias !== 'lora_only') return [];
  const biases = new Set<string>();
  for (const name of names) {
    if (!name.includes(weightPrefix)) continue;
    const head = name.split(weightPrefix)[0];
    for (const candidate of [`${head}bias`, `${head}base_layer.bias`]) if (context.parameters.has(candidate)) biases.add(candidate);
  }
  return [...biases];
}

/** Disabling LoRA layers leaves trained biases in place, so the output is not the base model's. */
export function loraDisableWarning(config: LoraConfig): string | undefined {
  return config.bias !== 'none' ? `disabling adapter layers with bias "${config.bias}" does not give the base model's output: the trained biases stay` : undefined;
}
