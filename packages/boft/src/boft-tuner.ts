import type { layers } from '@tensorflow/tfjs-layers';
import { biasOptionHooks, queryValueTargets, TunerLayer, UnsupportedLayerError, type LayerContext, type TargetDefaults, type TunerV1 } from '@peftjs/core';
import { convSettings, torchModuleKind } from '@peftjs/oft';
import { BOFT_PEFT_TYPE, boftConfigSchema, type BoftConfig } from './boft-config';
import { BOFT_DEFAULT_TARGETS } from './boft-default-targets';
import { BoftConv2D, BoftDense, type BoftAdapterOptions } from './boft-layer';
import { boftStateDictFormat } from './boft-state-dict';

/** The prefix that marks BOFT weights in PEFT's key names. */
export const BOFT_WEIGHT_PREFIX = 'boft_';

const SUPPORTED = ['Dense', 'Conv2D (square kernel, dilation 1, channelsLast)', 'linear classes stored as torch Linear'];

/** Options for a BOFT tuner instance. */
export interface BoftSettings {
  /** Default targets per model type, on top of (and overriding) PEFT 0.11.1's table. */
  defaultTargets?: Readonly<Record<string, TargetDefaults>>;
}

/** The options of the adapter that `config` puts on a layer. */
export function boftAdapterOptions(config: BoftConfig): BoftAdapterOptions {
  return {
    boftBlockSize: config.boftBlockSize,
    boftBlockNum: config.boftBlockNum,
    boftNButterflyFactor: config.boftNButterflyFactor,
    boftDropout: config.boftDropout,
    initWeights: config.initWeights,
  };
}

function conv2dProblem(layer: layers.Layer): string | undefined {
  const config = layer.getConfig();
  if (config.dataFormat === 'channelsFirst') return 'dataFormat "channelsFirst"';
  if (config.padding === 'causal') return 'padding "causal"';
  const kernelSize = Array.isArray(config.kernelSize) ? (config.kernelSize as number[]) : [config.kernelSize as number, config.kernelSize as number];
  if (kernelSize[0] !== (kernelSize[1] ?? kernelSize[0])) return `kernel size [${kernelSize.join(', ')}] (PEFT 0.11.1's BOFT assumes a square kernel)`;
  const { dilation } = convSettings(layer);
  if (dilation[0] !== 1 || dilation[1] !== 1) return `dilationRate [${dilation.join(', ')}] (PEFT 0.11.1's BOFT convolves without dilation)`;
  return undefined;
}

/** Builds a BOFT tuner; `boft` is the ready default instance. */
export function createBoft(settings: BoftSettings = {}): TunerV1<BoftConfig> {
  const defaultTargets = { ...BOFT_DEFAULT_TARGETS, ...(settings.defaultTargets ?? {}) };

  function wrap(baseLayer: layers.Layer, context: LayerContext<BoftConfig>): BoftDense | BoftConv2D {
    const kind = torchModuleKind(baseLayer);
    if (kind === 'conv2d') {
      const problem = conv2dProblem(baseLayer);
      if (problem) throw new UnsupportedLayerError({ layerPath: context.path, className: `Conv2D with ${problem}`, peftType: BOFT_PEFT_TYPE, supported: SUPPORTED });
      return new BoftConv2D({ baseLayer });
    }
    if (kind === 'linear') return new BoftDense({ baseLayer });
    throw new UnsupportedLayerError({ layerPath: context.path, className: baseLayer.getClassName(), peftType: BOFT_PEFT_TYPE, supported: SUPPORTED });
  }

  return {
    specificationVersion: 'v1',
    peftType: BOFT_PEFT_TYPE,
    weightPrefix: BOFT_WEIGHT_PREFIX,
    packageName: '@peftjs/boft',
    layers: [BoftDense, BoftConv2D],
    supportedLayerClasses: SUPPORTED,
    defaultTargets,
    canAdapt: (layer) => !TunerLayer.isTunerLayer(layer) && torchModuleKind(layer) !== undefined,
    configFields: boftConfigSchema.fields,
    parseConfig: (raw) => boftConfigSchema.parse(raw),
    serializeConfig: (config) => boftConfigSchema.serialize(config),
    defaultTargetsForArchitecture: queryValueTargets,
    stateDictFormat: boftStateDictFormat,
    // PEFT's `bias` option ('none' | 'all' | 'boft_only').
    ...biasOptionHooks(BOFT_WEIGHT_PREFIX),
    createLayer(baseLayer, context) {
      const layer = wrap(baseLayer, context);
      layer.addAdapter(context.adapterName, boftAdapterOptions(context.config));
      return layer;
    },
    updateLayer(layer: TunerLayer, context) {
      layer.addAdapter(context.adapterName, boftAdapterOptions(context.config));
    },
  };
}

/** The BOFT tuner with PEFT 0.11.1's defaults: `registerTuner(boft)`. */
export const boft: TunerV1<BoftConfig> = createBoft();
