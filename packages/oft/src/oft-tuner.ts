import type { layers } from '@tensorflow/tfjs-layers';
import { TunerLayer, UnsupportedLayerError, type LayerContext, type TargetDefaults, type TunerV1 } from '@peftjs/core';
import { conv2dProblem, innermostLayer, torchModuleKind } from './base-layer';
import { lycorisPatternKey, OFT_PEFT_TYPE, oftConfigSchema, type OftConfig } from './oft-config';
import { OftConv2D, OftDense, type OftAdapterOptions } from './oft-layer';

/** The prefix that marks OFT weights in PEFT's key names. */
export const OFT_WEIGHT_PREFIX = 'oft_';

const SUPPORTED = ['Dense', 'Conv2D', 'linear classes stored as torch Linear'];

/** Options for an OFT tuner instance. */
export interface OftSettings {
  /** Default targets per model type (PEFT 0.11.1 has none for OFT: targets must be given). */
  defaultTargets?: Readonly<Record<string, TargetDefaults>>;
}

/** The options of the adapter that `config` puts on the layer at `path` (r after rank_pattern). */
export function oftAdapterOptions(config: OftConfig, path: string): OftAdapterOptions {
  const key = lycorisPatternKey(path, config.rankPattern, config.alphaPattern);
  return {
    r: config.rankPattern[key] ?? config.r,
    moduleDropout: config.moduleDropout,
    initWeights: config.initWeights,
    coft: config.coft,
    eps: config.eps,
    blockShare: config.blockShare,
  };
}

/** Builds an OFT tuner; `oft` is the ready default instance. */
export function createOft(settings: OftSettings = {}): TunerV1<OftConfig> {
  function wrap(baseLayer: layers.Layer, context: LayerContext<OftConfig>): OftDense | OftConv2D {
    const weights = innermostLayer(baseLayer);
    const kind = torchModuleKind(weights);
    if (kind === 'conv2d') {
      const problem = conv2dProblem(weights);
      if (problem) throw new UnsupportedLayerError({ layerPath: context.path, className: `Conv2D with ${problem}`, peftType: OFT_PEFT_TYPE, supported: SUPPORTED });
      return new OftConv2D({ baseLayer });
    }
    if (kind === 'linear') return new OftDense({ baseLayer });
    throw new UnsupportedLayerError({ layerPath: context.path, className: weights.getClassName(), peftType: OFT_PEFT_TYPE, supported: SUPPORTED });
  }

  return {
    specificationVersion: 'v1',
    peftType: OFT_PEFT_TYPE,
    weightPrefix: OFT_WEIGHT_PREFIX,
    packageName: '@peftjs/oft',
    layers: [OftDense, OftConv2D],
    supportedLayerClasses: SUPPORTED,
    // An OFT layer may wrap another tuner's layer (PEFT's PeftMixedModel): it rotates that layer's output.
    mixedCompatible: true,
    ...(settings.defaultTargets ? { defaultTargets: settings.defaultTargets } : {}),
    canAdapt: (layer) => torchModuleKind(innermostLayer(layer)) !== undefined,
    configFields: oftConfigSchema.fields,
    parseConfig: (raw) => oftConfigSchema.parse(raw),
    serializeConfig: (config) => oftConfigSchema.serialize(config),
    createLayer(baseLayer, context) {
      const layer = wrap(baseLayer, context);
      layer.addAdapter(context.adapterName, oftAdapterOptions(context.config, context.path));
      return layer;
    },
    updateLayer(layer: TunerLayer, context) {
      layer.addAdapter(context.adapterName, oftAdapterOptions(context.config, context.path));
    },
  };
}

/** The OFT tuner with PEFT 0.11.1's defaults: `registerTuner(oft)`. */
export const oft: TunerV1<OftConfig> = createOft();
