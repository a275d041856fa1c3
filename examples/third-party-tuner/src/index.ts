import type { TargetDefaults, TunerGenerationHooks, TunerV1 } from '@peftjs/core';
import { OUTPUT_SCALE_PEFT_TYPE, outputScaleConfigSchema, type OutputScaleConfig } from './output-scale-config';
import { OutputScaleDense, type OutputScaleOptions } from './output-scale-dense';

export { OutputScaleDense, outputScaleConfigSchema, OUTPUT_SCALE_PEFT_TYPE, type OutputScaleConfig };

function options(config: OutputScaleConfig): OutputScaleOptions {
  return { initScaleWeights: config.initScaleWeights };
}

/**
 * The method's own default targets per model type (a partial config that fills what the user left
 * unset): the tuner owns its table, as PEFT's methods own theirs. `toy-mlp` is the model type the
 * tests attach to their MLP with `setModelInfo`.
 */
export const OUTPUT_SCALE_DEFAULT_TARGETS: Readonly<Record<string, TargetDefaults>> = {
  'toy-mlp': { targetModules: ['lin0', 'lin1'] },
  bert: { targetModules: ['output.dense'] },
};

/**
 * Generation hooks: a decode loop (@peftjs/models' `generate`) asks `plan(model)` how the active
 * adapter changes decoding. A scale on layer outputs adds no virtual positions and no cache
 * prefix, so there is nothing to plan; prompt learning's hooks (in @peftjs/prompt-tuning) are the
 * ones that return a plan.
 */
export const outputScaleGenerationHooks: TunerGenerationHooks = {
  plan: () => undefined,
};

/** A method from outside the peftjs repo's packages: it implements TunerV1 and nothing else. */
export const outputScale: TunerV1<OutputScaleConfig> = {
  specificationVersion: 'v1',
  peftType: OUTPUT_SCALE_PEFT_TYPE,
  weightPrefix: 'scale_',
  packageName: 'peftjs-tuner-output-scale',
  layers: [OutputScaleDense],
  supportedLayerClasses: ['Dense'],
  defaultTargets: OUTPUT_SCALE_DEFAULT_TARGETS,
  generation: outputScaleGenerationHooks,
  parseConfig: (raw) => outputScaleConfigSchema.parse(raw),
  serializeConfig: (config) => outputScaleConfigSchema.serialize(config),
  createLayer(baseLayer, context) {
    const layer = new OutputScaleDense({ baseLayer });
    layer.addAdapter(context.adapterName, options(context.config));
    return layer;
  },
  updateLayer(layer, context) {
    layer.addAdapter(context.adapterName, options(context.config));
  },
};
