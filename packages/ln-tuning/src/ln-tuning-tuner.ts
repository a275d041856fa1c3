import type { TargetDefaults, TunerV1 } from '@peftjs/core';
import { LN_TUNING_PEFT_TYPE, lnTuningConfigSchema, type LNTuningConfig } from './ln-tuning-config';
import { LN_TUNING_DEFAULT_TARGETS } from './ln-tuning-default-targets';
import { isCopyableLayer, LNTuningLayer } from './ln-tuning-layer';

/** The prefix that marks LN tuning weights in PEFT's key names. */
export const LN_TUNING_WEIGHT_PREFIX = 'ln_tuning_';

/** Options for an LN tuning tuner instance. */
export interface LNTuningSettings {
  /** Default targets per model type, on top of (and overriding) PEFT 0.11.1's table. */
  defaultTargets?: Readonly<Record<string, TargetDefaults>>;
}

/** Builds an LN tuning tuner; `lnTuning` is the ready default instance. */
export function createLnTuning(settings: LNTuningSettings = {}): TunerV1<LNTuningConfig> {
  return {
    specificationVersion: 'v1',
    peftType: LN_TUNING_PEFT_TYPE,
    weightPrefix: LN_TUNING_WEIGHT_PREFIX,
    packageName: '@peftjs/ln-tuning',
    layers: [LNTuningLayer],
    // PEFT copies whatever module it targets (norms by default; llava's defaults add embeddings and heads).
    supportedLayerClasses: ['LlamaRMSNorm', 'LayerNormalization', 'T5LayerNorm', 'and every other serializable layer with weights'],
    defaultTargets: { ...LN_TUNING_DEFAULT_TARGETS, ...(settings.defaultTargets ?? {}) },
    canAdapt: (layer) => isCopyableLayer(layer),
    configFields: lnTuningConfigSchema.fields,
    parseConfig: (raw) => lnTuningConfigSchema.parse(raw),
    serializeConfig: (config) => lnTuningConfigSchema.serialize(config),
    createLayer(baseLayer, context) {
      const layer = new LNTuningLayer({ baseLayer });
      layer.addAdapter(context.adapterName, {});
      return layer;
    },
    updateLayer(layer, context) {
      layer.addAdapter(context.adapterName, {});
    },
  };
}

/** The LN tuning tuner with PEFT 0.11.1's defaults: `registerTuner(lnTuning)`. */
export const lnTuning: TunerV1<LNTuningConfig> = createLnTuning();
