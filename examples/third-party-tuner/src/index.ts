import type { TunerV1 } from '@peftjs/core';
import { OUTPUT_SCALE_PEFT_TYPE, outputScaleConfigSchema, type OutputScaleConfig } from './output-scale-config';
import { OutputScaleDense, type OutputScaleOptions } from './output-scale-dense';

export { OutputScaleDense, outputScaleConfigSchema, OUTPUT_SCALE_PEFT_TYPE, type OutputScaleConfig };

function options(config: OutputScaleConfig): OutputScaleOptions {
  return { initScaleWeights: config.initScaleWeights };
}

/** A method from outside the peftjs repo's packages: it implements TunerV1 and nothing else. */
export const outputScale: TunerV1<OutputScaleConfig> = {
  specificationVersion: 'v1',
  peftType: OUTPUT_SCALE_PEFT_TYPE,
  weightPrefix: 'scale_',
  packageName: 'peftjs-tuner-output-scale',
  layers: [OutputScaleDense],
  supportedLayerClasses: ['Dense'],
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
