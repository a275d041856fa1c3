import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { ArchitectureConfig } from '@peftjs/core';
import type { PretrainedConfig } from '../config/pretrained-config';
import type { BuildOptions } from './build-options';

/** What a model is built for; `AutoModelFor…` classes pick one. */
export type ModelTask = 'base' | 'causal-lm' | 'seq2seq-lm' | 'sequence-classification' | 'token-classification';

export const MODEL_TASKS: readonly ModelTask[] = ['base', 'causal-lm', 'seq2seq-lm', 'sequence-classification', 'token-classification'];

/** One transformers class (`GPT2LMHeadModel`) of a model type. */
export interface ModelTaskDefinition<Config> {
  /** The transformers class name, used as the LayersModel's name. */
  readonly className: string;
  build(config: Config, options: BuildOptions): LayersModel;
  /** The output head's module path (`lm_head`), left out of 'all-linear'. */
  readonly outputHeadPath?: string;
  /** Parameters a checkpoint of another class may lack; they keep a fresh init, with a warning (a new classifier). */
  readonly newlyInitialized?: readonly RegExp[];
  /** Checkpoint keys to skip silently for this class (a tied `lm_head.weight`, say). */
  readonly ignoreUnexpected?: (config: Config) => readonly RegExp[];
}

/** How @peftjs/models builds and loads one `model_type`. */
export interface ModelTypeDefinition<Config = any> {
  readonly modelType: string;
  /** The attribute transformers nests the base model under (`transformer`, `model`, `bert`). */
  readonly basePrefix: string;
  /** Reads config.json into the builder's typed config (throws ModelLoadError on bad values). */
  parseConfig(raw: PretrainedConfig, source?: string): Config;
  readonly tasks: Partial<Record<ModelTask, ModelTaskDefinition<Config>>>;
  /** Checkpoint keys of buffers that have no parameter here (`attn.masked_bias`, `rotary_emb.inv_freq`). */
  readonly ignoreUnexpected?: readonly RegExp[];
  /** Layer roles and default targets, registered with @peftjs/core. */
  readonly architecture: ArchitectureConfig;
}

const registry = ((globalThis as Record<symbol, unknown>)[Symbol.for('peftjs.models.modelTypes')] ??= new Map<string, ModelTypeDefinition>()) as Map<string, ModelTypeDefinition>;

/**
 * Registers how to build a model type, so `AutoModel…fromPretrained` can load it. The
 * architecture's roles go to @peftjs/core's registry separately (registerArchitecture).
 */
export function registerModelType(definition: ModelTypeDefinition, options: { override?: boolean } = {}): void {
  const existing = registry.get(definition.modelType);
  if (existing && existing !== definition && !options.override) {
    throw new Error(`model type "${definition.modelType}" is already registered; pass { override: true } to replace it`);
  }
  registry.set(definition.modelType, definition);
}

export function getModelType(modelType: string): ModelTypeDefinition | undefined {
  return registry.get(modelType);
}

export function listModelTypes(): string[] {
  return [...registry.keys()].sort();
}
