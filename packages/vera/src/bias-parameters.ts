import { TunerLayer, type AdapterParameterContext } from '@peftjs/core';

/**
 * The `bias` option as PEFT's trainability marks it: 'all' trains every bias of the model (not the
 * modules_to_save originals), the method's 'only' value the biases of the layers it wraps.
 */
export function trainableBiases(bias: string, onlyValue: string, context: AdapterParameterContext): string[] {
  if (bias === 'all') return [...context.parameters.keys()].filter((key) => key.endsWith('bias') && !key.includes('original_module.'));
  if (bias !== onlyValue) return [];
  return context.layers
    .filter(({ layer }) => TunerLayer.isTunerLayer(layer) && layer.hasAdapter(context.adapterName))
    .map(({ path }) => `${path}.base_layer.bias`)
    .filter((key) => context.parameters.has(key));
}

/** The biases PEFT's get_peft_model_state_dict saves beside the adapter: every bias with 'all', the wrapped layers' with the 'only' value. */
export function savedBiases(bias: string, onlyValue: string, context: AdapterParameterContext, weightPrefix: string): string[] {
  const names = [...context.parameters.keys()];
  if (bias === 'all') return names.filter((name) => name.includes('bias'));
  if (bias !== onlyValue) return [];
  const biases = new Set<string>();
  for (const name of names) {
    if (!name.includes(weightPrefix)) continue;
    const head = name.split(weightPrefix)[0];
    for (const candidate of [`${head}bias`, `${head}base_layer.bias`]) if (context.parameters.has(candidate)) biases.add(candidate);
  }
  return [...biases];
}

/** Disabling the adapter leaves trained biases in place, so the output is not the base model's. */
export function biasDisableWarning(bias: string): string | undefined {
  return bias !== 'none' ? `disabling adapter layers with bias "${bias}" does not give the base model's output: the trained biases stay` : undefined;
}
