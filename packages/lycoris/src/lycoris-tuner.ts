import type { layers } from '@tensorflow/tfjs-layers';
import {
  getLayerFormat,
  innermostLayer,
  isLinearLayerClass,
  UnsupportedLayerError,
  type ConfigSchema,
  type LayerContext,
  type PeftConfig,
  type SerializableLayerClass,
  type TargetDefaults,
  type TunerLayer,
  type TunerLayerArgs,
  type TunerV1,
} from '@peftjs/core';
import { lycorisRankAndAlpha, type LycorisConfigBase } from './lycoris-config';
import { lycorisConv2dProblem, type LycorisAdapterOptions, type LycorisLayer } from './lycoris-layer';

/** A LyCORIS layer class: one for Dense (torch Linear), one for Conv2D. */
export type LycorisLayerClass = (new (args: TunerLayerArgs) => LycorisLayer) & SerializableLayerClass;

/** What a LyCORIS method (LoHa, LoKr) gives the shared tuner factory. */
export interface LycorisMethod<Config extends PeftConfig & LycorisConfigBase> {
  peftType: string;
  weightPrefix: string;
  packageName: string;
  schema: ConfigSchema<Config>;
  dense: LycorisLayerClass;
  conv2d: LycorisLayerClass;
  /** Per-layer options beyond the shared ones (LoKr's decompose_both, decompose_factor). */
  extraOptions?(config: Config): Record<string, unknown>;
}

/** Options for a LyCORIS tuner instance. */
export interface LycorisSettings {
  /** Default targets per model type (PEFT 0.11.1 has none for LoHa and LoKr: it asks for target_modules). */
  defaultTargets?: Readonly<Record<string, TargetDefaults>>;
}

const SUPPORTED = ['Dense', 'Conv2D', 'and every class registered with registerLinearLayerClass whose weight is stored as torch Linear ([out, in])'];

/**
 * Whether a layer is a torch Linear or Conv2d for LyCORIS. PEFT's LyCORIS layers wrap nn.Linear
 * and nn.Conv2d only, so a linear class whose weight is stored `[in, out]` (GPT-2's Conv1D) is refused.
 */
function isAdaptable(layer: layers.Layer): boolean {
  const className = layer.getClassName();
  if (className === 'Dense' || className === 'Conv2D') return true;
  if (!isLinearLayerClass(className)) return false;
  const rule = Object.values(getLayerFormat(className)?.weights ?? {}).find((entry) => entry.torchName === 'weight');
  const permutation = rule?.toTorchPermutation;
  return permutation !== undefined && permutation.length === 2 && permutation[0] === 1 && permutation[1] === 0;
}

/** The options of the adapter `config` puts on the layer at `path` (rank and alpha after the patterns). */
export function lycorisAdapterOptions<Config extends LycorisConfigBase>(
  config: Config,
  path: string,
  extra: Record<string, unknown> = {},
): LycorisAdapterOptions & Record<string, unknown> {
  const { r, alpha } = lycorisRankAndAlpha(config, path);
  return {
    r,
    alpha,
    rankDropout: config.rankDropout,
    moduleDropout: config.moduleDropout,
    initWeights: config.initWeights,
    useEffectiveConv2d: config.useEffectiveConv2d,
    ...extra,
  };
}

/**
 * Builds a LyCORIS tuner (PEFT's LycorisTuner): Dense and Conv2D targets, rank/alpha patterns,
 * several adapters per layer, and mixed models (an adapter on another tuner's layer wraps it).
 */
export function createLycorisTuner<Config extends PeftConfig & LycorisConfigBase>(method: LycorisMethod<Config>, settings: LycorisSettings = {}): TunerV1<Config> {
  const options = (config: Config, path: string) => lycorisAdapterOptions(config, path, method.extraOptions?.(config));
  return {
    specificationVersion: 'v1',
    peftType: method.peftType,
    weightPrefix: method.weightPrefix,
    packageName: method.packageName,
    layers: [method.dense, method.conv2d],
    supportedLayerClasses: SUPPORTED,
    ...(settings.defaultTargets ? { defaultTargets: settings.defaultTargets } : {}),
    mixedCompatible: true,
    canAdapt: isAdaptable,
    configFields: method.schema.fields,
    parseConfig: (raw) => method.schema.parse(raw),
    serializeConfig: (config) => method.schema.serialize(config),
    createLayer(baseLayer, context: LayerContext<Config>): TunerLayer {
      // In a mixed model baseLayer may be another tuner's layer; the plain layer under it decides.
      const plain = innermostLayer(baseLayer);
      let layer: LycorisLayer;
      if (plain.getClassName() === 'Conv2D') {
        const problem = lycorisConv2dProblem(plain.getConfig());
        if (problem) throw new UnsupportedLayerError({ layerPath: context.path, className: `Conv2D with ${problem}`, peftType: method.peftType, supported: SUPPORTED });
        layer = new method.conv2d({ baseLayer });
      } else {
        layer = new method.dense({ baseLayer });
      }
      layer.addAdapter(context.adapterName, options(context.config, context.path));
      return layer;
    },
    updateLayer(layer, context) {
      layer.addAdapter(context.adapterName, options(context.config, context.path));
    },
  };
}
