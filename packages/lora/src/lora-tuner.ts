import type { layers } from '@tensorflow/tfjs-layers';
import {
  biasOptionHooks,
  correctFanInFanOut,
  innermostLayer,
  InvalidConfigError,
  isLinearLayerClass,
  UnsupportedLayerError,
  queryValueTargets,
  type LayerContext,
  type TargetDefaults,
  type TunerLayer,
  type TunerV1,
} from '@peftjs/core';
import { LORA_PEFT_TYPE, loraConfigSchema, type LoraConfig } from './lora-config';
import { conv2dAdaptable, LoraConv2D } from './lora-conv2d-layer';
import { LORA_DEFAULT_TARGETS } from './lora-default-targets';
import { LoraDense } from './lora-dense-layer';
import { LoraEmbedding } from './lora-embedding-layer';
import { LoraLayer, type LoraAdapterOptions } from './lora-layer';

/** The prefix that marks LoRA weights in PEFT's key names. */
export const LORA_WEIGHT_PREFIX = 'lora_';

const BASE_CLASSES = ['Dense', 'Conv2D', 'Embedding'] as const;

/** Options for a LoRA tuner instance. */
export interface LoraSettings {
  /** Default targets per model type, on top of (and overriding) PEFT 0.11.1's table. */
  defaultTargets?: Readonly<Record<string, TargetDefaults>>;
}

const patternCache = new Map<string, RegExp>();

/**
 * PEFT's rank/alpha lookup: the first key of `rank_pattern` then `alpha_pattern` that matches
 * `re.match(rf".*\.{key}$", path)`, else the path itself; that one key is used for both lookups.
 */
export function patternKey(path: string, config: Pick<LoraConfig, 'rankPattern' | 'alphaPattern'>): string {
  for (const key of [...Object.keys(config.rankPattern), ...Object.keys(config.alphaPattern)]) {
    let regex = patternCache.get(key);
    if (!regex) {
      try {
        regex = new RegExp(`^.*\\.${key}$`);
      } catch (error) {
        throw new InvalidConfigError(`rank_pattern / alpha_pattern key ${JSON.stringify(key)} is not a valid regular expression`, { field: 'rank_pattern', cause: error });
      }
      patternCache.set(key, regex);
    }
    if (regex.test(path)) return key;
  }
  return path;
}

/** The options of the adapter that `config` puts on the layer at `path` (rank and alpha after the patterns). */
export function loraAdapterOptions(config: LoraConfig, path: string): LoraAdapterOptions {
  const key = patternKey(path, config);
  return {
    r: config.rankPattern[key] ?? config.r,
    loraAlpha: config.alphaPattern[key] ?? config.loraAlpha,
    loraDropout: config.loraDropout,
    useRslora: config.useRslora,
    useDora: config.useDora,
    initLoraWeights: config.initLoraWeights,
  };
}

function supportedClasses(): string[] {
  return [...BASE_CLASSES, 'and every class registered with registerLinearLayerClass'];
}

/** Builds a LoRA tuner; `lora` is the ready default instance. */
export function createLora(settings: LoraSettings = {}): TunerV1<LoraConfig> {
  const defaultTargets = { ...LORA_DEFAULT_TARGETS, ...(settings.defaultTargets ?? {}) };

  function wrap(baseLayer: layers.Layer, context: LayerContext<LoraConfig>): LoraLayer {
    // In a mixed model baseLayer may be another tuner's layer; the plain layer under it decides.
    const plain = innermostLayer(baseLayer);
    const className = plain.getClassName();
    if (className === 'Conv2D') {
      const reason = conv2dAdaptable(plain.getConfig());
      if (reason) throw new UnsupportedLayerError({ layerPath: context.path, className: `Conv2D with ${reason}`, peftType: LORA_PEFT_TYPE, supported: supportedClasses() });
      return new LoraConv2D({ baseLayer });
    }
    if (className === 'Embedding') return new LoraEmbedding({ baseLayer });
    correctFanInFanOut(plain, context);
    return new LoraDense({ baseLayer });
  }

  return {
    specificationVersion: 'v1',
    peftType: LORA_PEFT_TYPE,
    weightPrefix: LORA_WEIGHT_PREFIX,
    packageName: '@peftjs/lora',
    layers: [LoraDense, LoraConv2D, LoraEmbedding],
    supportedLayerClasses: BASE_CLASSES,
    defaultTargets,
    mixedCompatible: true,
    canAdapt(layer) {
      const className = layer.getClassName();
      return (BASE_CLASSES as readonly string[]).includes(className) || isLinearLayerClass(className);
    },
    configFields: loraConfigSchema.fields,
    parseConfig: (raw) => loraConfigSchema.parse(raw),
    serializeConfig: (config) => loraConfigSchema.serialize(config),
    defaultTargetsForArchitecture: queryValueTargets,
    prepareConfig(config) {
      if (config.layerReplication !== null) {
        throw new InvalidConfigError(
          'layer_replication is not supported by peftjs: it clones transformer blocks with shared weights, which a tfjs LayersModel graph cannot express; build the replicated model first, or set layer_replication to null',
          { field: 'layer_replication' },
        );
      }
      return config;
    },
    checkNewAdapter(config, existing) {
      // PEFT's _check_new_adapter_config: with more than one adapter, the new one must have bias "none".
      if (existing.size > 0 && config.bias !== 'none') {
        throw new InvalidConfigError(
          `LoRA supports only 1 adapter with bias. When using multiple adapters, set bias to 'none' for all adapters (the new adapter has bias ${JSON.stringify(config.bias)}).`,
          { field: 'bias' },
        );
      }
    },
    ...biasOptionHooks(LORA_WEIGHT_PREFIX),
    createLayer(baseLayer, context) {
      const layer = wrap(baseLayer, context);
      layer.addAdapter(context.adapterName, loraAdapterOptions(context.config, context.path));
      return layer;
    },
    updateLayer(layer: TunerLayer, context) {
      if (layer instanceof LoraDense) correctFanInFanOut(layer.innermostBaseLayer, context);
      layer.addAdapter(context.adapterName, loraAdapterOptions(context.config, context.path));
    },
  };
}

/** The LoRA tuner with PEFT 0.11.1's defaults: `registerTuner(lora)`. */
export const lora: TunerV1<LoraConfig> = createLora();
