import { isLinearLayerClass, type ArchitectureConfig, type TargetDefaults, type TunerV1 } from '@peftjs/core';
import { checkFeedforwardSubset, IA3_PEFT_TYPE, ia3ConfigSchema, isFeedforward, type IA3Config } from './ia3-config';
import { IA3_DEFAULT_TARGETS } from './ia3-default-targets';
import { IA3Conv2D, IA3Dense, type IA3LayerOptions } from './ia3-layer';

function layerOptions(config: IA3Config, path: string): IA3LayerOptions {
  return { isFeedforward: isFeedforward(path, config.feedforwardModules), initIa3Weights: config.initIa3Weights };
}

/** IA3 from a custom architecture's roles: key, value and the feed-forward output (scaled on its input). */
function defaultTargetsForArchitecture(architecture: ArchitectureConfig): TargetDefaults | undefined {
  const { key, value, queryKeyValue, feedForwardOutput } = architecture.roles;
  const attention = queryKeyValue ? [queryKeyValue] : [key, value].filter((name): name is string => !!name);
  if (attention.length === 0 && !feedForwardOutput) return undefined;
  return { targetModules: [...attention, ...(feedForwardOutput ? [feedForwardOutput] : [])], feedforwardModules: feedForwardOutput ? [feedForwardOutput] : [] };
}

/** Options for an IA3 tuner instance. */
export interface IA3Settings {
  /** Default targets (and feed-forward modules) per model type, on top of (and overriding) PEFT 0.11.1's table. */
  defaultTargets?: Readonly<Record<string, TargetDefaults>>;
}

/** Builds an IA3 tuner; `ia3` is the ready default instance. */
export function createIA3(settings: IA3Settings = {}): TunerV1<IA3Config> {
  return {
    specificationVersion: 'v1',
    peftType: IA3_PEFT_TYPE,
    weightPrefix: 'ia3_',
    packageName: '@peftjs/ia3',
    layers: [IA3Dense, IA3Conv2D],
    supportedLayerClasses: ['Dense', 'Conv2D'],
    defaultTargets: { ...IA3_DEFAULT_TARGETS, ...(settings.defaultTargets ?? {}) },
    canAdapt: (layer) => layer.getClassName() === 'Conv2D' || isLinearLayerClass(layer.getClassName()),
    parseConfig: (raw) => ia3ConfigSchema.parse(raw),
    serializeConfig: (config) => ia3ConfigSchema.serialize(config),
    defaultTargetsForArchitecture,
    prepareConfig(config) {
      const prepared = { ...config, feedforwardModules: config.feedforwardModules ?? [] };
      checkFeedforwardSubset(prepared.targetModules, prepared.feedforwardModules);
      return prepared;
    },
    createLayer(baseLayer, context) {
      const layer = baseLayer.getClassName() === 'Conv2D' ? new IA3Conv2D({ baseLayer }) : new IA3Dense({ baseLayer });
      layer.addAdapter(context.adapterName, layerOptions(context.config, context.path));
      return layer;
    },
    updateLayer(layer, context) {
      layer.addAdapter(context.adapterName, layerOptions(context.config, context.path));
    },
  };
}

/** The IA3 tuner with PEFT 0.11.1's defaults: `registerTuner(ia3)`. */
export const ia3: TunerV1<IA3Config> = createIA3();
