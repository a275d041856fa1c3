import type { AdapterParameterContext, TunerV1 } from '../spec/tuner-v1';
import { TunerLayer } from '../spec/tuner-layer';
import type { PeftConfig } from '../config/config-schema';

/** A config with PEFT's `bias` option: 'none', 'all', or `'<method>_only'`. */
type WithBias = PeftConfig & { bias?: string };

/**
 * PEFT's `bias` option, as its tuners mark trainability: 'all' trains every bias of the model (not
 * the modules_to_save originals); `'<method>_only'` the biases of the layers the method wraps.
 */
export function trainableBiases(config: WithBias, context: AdapterParameterContext): string[] {
  const bias = config.bias ?? 'none';
  if (bias === 'all') return [...context.parameters.keys()].filter((key) => key.endsWith('bias') && !key.includes('original_module.'));
  if (bias === 'none') return [];
  return context.layers
    .filter(({ layer }) => TunerLayer.isTunerLayer(layer) && layer.hasAdapter(context.adapterName))
    .map(({ path }) => `${path}.base_layer.bias`)
    .filter((key) => context.parameters.has(key));
}

/**
 * The biases PEFT's get_peft_model_state_dict saves beside the adapter weights: with 'all' every
 * parameter named like a bias, with `'<method>_only'` the bias of each layer holding the method's weights.
 */
export function savedBiases(config: WithBias, context: AdapterParameterContext, weightPrefix: string): string[] {
  const bias = config.bias ?? 'none';
  const names = [...context.parameters.keys()];
  if (bias === 'all') return names.filter((name) => name.includes('bias'));
  if (bias === 'none') return [];
  const biases = new Set<string>();
  for (const name of names) {
    if (!name.includes(weightPrefix)) continue;
    const head = name.split(weightPrefix)[0];
    for (const candidate of [`${head}bias`, `${head}base_layer.bias`]) if (context.parameters.has(candidate)) biases.add(candidate);
  }
  return [...biases];
}

/** Disabling the adapter's layers leaves trained biases in place, so the output is not the base model's. */
export function biasDisableWarning(config: WithBias): string | undefined {
  const bias = config.bias ?? 'none';
  return bias !== 'none' ? `disabling adapter layers with bias "${bias}" does not give the base model's output: the trained biases stay` : undefined;
}

/**
 * The tuner hooks of PEFT's `bias` option (several of PEFT's tuners share it) for a method whose
 * weights carry `weightPrefix`: spread them into the tuner.
 */
export function biasOptionHooks(weightPrefix: string): Pick<TunerV1<any>, 'trainableParameters' | 'savedParameters' | 'disableWarning'> {
  return {
    trainableParameters: trainableBiases,
    savedParameters: (config, context) => savedBiases(config, context, weightPrefix),
    disableWarning: biasDisableWarning,
  };
}
