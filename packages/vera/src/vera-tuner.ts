import {
  biasOptionHooks,
  correctFanInFanOut,
  InvalidConfigError,
  isLinearLayerClass,
  UnsupportedLayerError,
  queryValueTargets,
  type LayerContext,
  type TargetDefaults,
  type TunerLayer,
  type TunerV1,
} from '@peftjs/core';
import { VERA_PEFT_TYPE, veraConfigSchema, type VeraConfig } from './vera-config';
import { VERA_DEFAULT_TARGETS } from './vera-default-targets';
import { VeraDense, type VeraAdapterOptions } from './vera-layer';
import { VeraProjections } from './vera-projections';
import { veraStateDictFormat } from './vera-state-dict';

/** The prefix that marks VeRA's trained weights in PEFT's key names. */
export const VERA_WEIGHT_PREFIX = 'vera_lambda_';

const SUPPORTED = ['Dense', 'GPT-2 Conv1D', 'every class registered with registerLinearLayerClass'];

/** Options for a VeRA tuner instance. */
export interface VeraSettings {
  /** Default targets per model type, on top of (and overriding) PEFT 0.11.1's table. */
  defaultTargets?: Readonly<Record<string, TargetDefaults>>;
}

export function veraAdapterOptions(config: VeraConfig): VeraAdapterOptions {
  return {
    r: config.r,
    projectionPrngKey: config.projectionPrngKey,
    saveProjection: config.saveProjection,
    veraDropout: config.veraDropout,
    dInitial: config.dInitial,
    initWeights: config.initWeights,
  };
}

/** Builds a VeRA tuner; `vera` is the ready default instance. */
export function createVera(settings: VeraSettings = {}): TunerV1<VeraConfig> {
  const defaultTargets = { ...VERA_DEFAULT_TARGETS, ...(settings.defaultTargets ?? {}) };
  // One shared pair per injected adapter: every layer of one injection sees the same config object.
  const shared = new WeakMap<VeraConfig, VeraProjections>();

  function add(layer: VeraDense, context: LayerContext<VeraConfig>): void {
    const options = veraAdapterOptions(context.config);
    let projections = shared.get(context.config);
    if (!projections) {
      // PEFT 0.11.1 sizes the pair from the first targeted layer.
      projections = new VeraProjections(options.r, layer.inFeatures, layer.outFeatures, options.projectionPrngKey);
      shared.set(context.config, projections);
    }
    try {
      layer.addSharedAdapter(context.adapterName, options, projections);
    } finally {
      // Held by the layers that use it; a pair no layer took is freed at once.
      projections.disposeIfUnheld();
    }
  }

  return {
    specificationVersion: 'v1',
    peftType: VERA_PEFT_TYPE,
    weightPrefix: VERA_WEIGHT_PREFIX,
    packageName: '@peftjs/vera',
    layers: [VeraDense],
    supportedLayerClasses: SUPPORTED,
    defaultTargets,
    canAdapt: (layer) => isLinearLayerClass(layer.getClassName()),
    configFields: veraConfigSchema.fields,
    parseConfig: (raw) => veraConfigSchema.parse(raw),
    serializeConfig: (config) => veraConfigSchema.serialize(config),
    defaultTargetsForArchitecture: queryValueTargets,
    stateDictFormat: veraStateDictFormat,
    // PEFT's `bias` option ('none' | 'all' | 'vera_only').
    ...biasOptionHooks(VERA_WEIGHT_PREFIX),
    checkNewAdapter(config, existing) {
      if (existing.size > 0 && config.bias !== 'none') {
        throw new InvalidConfigError(
          `VeraModel supports only 1 adapter with bias. When using multiple adapters, set bias to 'none' for all adapters (the new adapter has bias ${JSON.stringify(config.bias)}).`,
          {
            field: 'bias',
          },
        );
      }
      for (const other of existing.values()) {
        if (other.projectionPrngKey !== config.projectionPrngKey) {
          throw new InvalidConfigError(
            `Vera PRNG initialisation key must be the same for all adapters. Got config.projection_prng_key=${config.projectionPrngKey} but previous config had ${other.projectionPrngKey}.`,
            { field: 'projection_prng_key' },
          );
        }
        if (other.saveProjection !== config.saveProjection) {
          throw new InvalidConfigError(
            `VeRA projection weights must be saved for all adapters or none, but got multiple different values: [${[other.saveProjection, config.saveProjection].sort().join(', ')}]`,
            {
              field: 'save_projection',
            },
          );
        }
      }
    },
    createLayer(baseLayer, context) {
      if (!isLinearLayerClass(baseLayer.getClassName())) {
        throw new UnsupportedLayerError({ layerPath: context.path, className: baseLayer.getClassName(), peftType: VERA_PEFT_TYPE, supported: SUPPORTED });
      }
      correctFanInFanOut(baseLayer, context);
      const layer = new VeraDense({ baseLayer });
      add(layer, context);
      return layer;
    },
    updateLayer(layer: TunerLayer, context) {
      add(layer as VeraDense, context);
    },
  };
}

/** The VeRA tuner with PEFT 0.11.1's defaults: `registerTuner(vera)`. */
export const vera: TunerV1<VeraConfig> = createVera();
