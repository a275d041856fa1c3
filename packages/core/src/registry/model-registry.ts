import type { LayersModel } from '@tensorflow/tfjs-layers';
import { InvalidConfigError } from '../errors';
import type { TargetDefaults } from '../spec/tuner-v1';
import { globalRegistry } from '../util/global-registry';

/** Which layers play which part in a transformer, by leaf name (`q_proj`) or path suffix. */
export interface LayerRoles {
  query?: string;
  key?: string;
  value?: string;
  /** A fused q/k/v projection (`c_attn`, `query_key_value`). */
  queryKeyValue?: string;
  attentionOutput?: string;
  /** Every feed-forward projection (`gate_proj`, `up_proj`, `down_proj`). */
  feedForward?: string[];
  /** The feed-forward projection back to the hidden size (`down_proj`, `fc2`). */
  feedForwardOutput?: string;
  embedding?: string;
  /** The output head, left out of 'all-linear'. */
  outputHead?: string;
}

/** A model architecture described for targeting: what a user registers for a custom model. */
export interface ArchitectureConfig {
  modelType: string;
  roles: LayerRoles;
  numLayers?: number;
  hiddenSize?: number;
  numAttentionHeads?: number;
  numKeyValueHeads?: number;
  /** The segment before the layer index in module paths (`layers`, `h`, `layer`, `block`). */
  layersPattern?: string;
  /** Explicit default targets per peft_type, taking precedence over the tuner's own tables. */
  defaultTargets?: Record<string, TargetDefaults>;
}

/** What is known about one model instance. */
export interface ModelInfo {
  modelType?: string;
  /** `base_model_name_or_path` to write into adapter configs. */
  nameOrPath?: string;
  /** The module path of the output head, left out of 'all-linear'. */
  outputHeadPath?: string;
  /**
   * The model's transformers config (config.json as parsed, snake_case keys), for methods that
   * read sizes from it as PEFT does (prompt learning: `num_hidden_layers`, `hidden_size`, ...).
   */
  config?: Readonly<Record<string, unknown>>;
}

const architectures = globalRegistry('architectures', () => new Map<string, ArchitectureConfig>());
const targetDefaults = globalRegistry('targetDefaults', () => new Map<string, TargetDefaults>());
const modelInfos = globalRegistry('modelInfos', () => new WeakMap<object, ModelInfo>());

const key = (peftType: string, modelType: string) => `${peftType}_${modelType}`;

/**
 * Registers a model architecture (a custom one, or one @peftjs/models builds) so that default
 * targets, 'all-linear' and prompt methods work on it without explicit targets.
 */
export function registerArchitecture(architecture: ArchitectureConfig, options: { override?: boolean } = {}): void {
  if (!architecture || typeof architecture.modelType !== 'string' || architecture.modelType === '') {
    throw new InvalidConfigError('registerArchitecture needs a non-empty modelType');
  }
  if (typeof architecture.roles !== 'object' || architecture.roles === null) {
    throw new InvalidConfigError(`architecture "${architecture.modelType}" needs a roles object (query, value, feedForward, ...)`);
  }
  const existing = architectures.get(architecture.modelType);
  if (existing && existing !== architecture && !options.override) {
    throw new InvalidConfigError(`architecture "${architecture.modelType}" is already registered; pass { override: true } to replace it`);
  }
  architectures.set(architecture.modelType, architecture);
}

export function getArchitecture(modelType: string): ArchitectureConfig | undefined {
  return architectures.get(modelType);
}

export function listArchitectures(): ArchitectureConfig[] {
  return [...architectures.values()];
}

export function unregisterArchitecture(modelType: string): boolean {
  return architectures.delete(modelType);
}

/** Sets the default targets of one (peftType, modelType) pair. */
export function registerTargetDefaults(peftType: string, modelType: string, defaults: TargetDefaults): void {
  targetDefaults.set(key(peftType, modelType), defaults);
}

/** Explicit registrations first, then the architecture's own table. */
export function getRegisteredTargetDefaults(peftType: string, modelType: string): TargetDefaults | undefined {
  return targetDefaults.get(key(peftType, modelType)) ?? architectures.get(modelType)?.defaultTargets?.[peftType];
}

/** Attaches what is known about a model instance (its type, its name or path). */
export function setModelInfo(model: LayersModel, info: ModelInfo): void {
  modelInfos.set(model, { ...modelInfos.get(model), ...info });
}

export function getModelInfo(model: LayersModel): ModelInfo {
  return modelInfos.get(model) ?? {};
}
