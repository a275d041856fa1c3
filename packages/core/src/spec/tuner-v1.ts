import type { layers, LayersModel } from '@tensorflow/tfjs-layers';
import type * as tf from '@tensorflow/tfjs-core';
import type { PeftConfig } from '../config/config-schema';
import type { ModulesToSaveLayer } from '../model/modules-to-save-layer';
import type { NamedLayer } from '../model/named-layers';
import type { ArchitectureConfig } from '../registry/model-registry';
import type { TunerGenerationHooks } from './generation-hooks';
import type { ParamRef } from './param-ref';
import type { TunerLayer } from './tuner-layer';

/** A layer class a tuner registers with tf.serialization.registerClass. */
export type SerializableLayerClass = tf.serialization.SerializableConstructor<tf.serialization.Serializable> & { className: string };

/**
 * A model type's defaults: a partial config (camelCase field names) that fills the fields the
 * user left unset. Core fills `targetModules`; the tuner's `applyTargetDefaults` applies the
 * rest (by default: every other field of the config that is still null).
 */
export type TargetDefaults = { readonly targetModules: readonly string[] } & { readonly [field: string]: unknown };

/** What core tells a tuner's parameter hooks about one adapter. */
export interface AdapterParameterContext {
  readonly adapterName: string;
  /** Every parameter of the model, by in-memory name (`h.0.attn.c_attn.base_layer.bias`). */
  readonly parameters: ReadonlyMap<string, ParamRef>;
  /** The model's adapter layers (tuner layers and modules_to_save copies) with their module paths. */
  readonly layers: readonly AdapterLayerEntry[];
}

/** What a tuner is told about the layer it adapts. */
export interface LayerContext<Config extends PeftConfig> {
  readonly adapterName: string;
  readonly config: Config;
  /** The layer's module path, e.g. `model.layers.0.self_attn.q_proj`. */
  readonly path: string;
  /** Every target path that this adapter matched (for options that depend on the whole set). */
  readonly targetPaths: readonly string[];
}

/** What a tuner is told about the model when it prepares a config. */
export interface ModelContext {
  readonly model: LayersModel;
  /** The model type (`llama`, `gpt2`, ...) when known. */
  readonly modelType: string | undefined;
  /** The registered architecture of that model type, when there is one. */
  readonly architecture: ArchitectureConfig | undefined;
}

/** One of a model's adapter layers (a tuner layer or a modules_to_save copy), with its module path. */
export interface AdapterLayerEntry {
  readonly path: string;
  readonly layer: TunerLayer | ModulesToSaveLayer;
}

/**
 * A save format of the tuner's own, in place of core's per-layer keys
 * (`base_model.model.<path>.<name>`): prompt learning saves one un-prefixed `prompt_embeddings`
 * tensor for the whole model. `layers` are the model's adapter layers: its tuner layers and its
 * modules_to_save wrappers.
 */
export interface AdapterStateDictFormat {
  /** The saved keys and their torch shapes, without reading any tensor. */
  shapes(layers: readonly AdapterLayerEntry[], adapterName: string): Record<string, number[]>;
  /** The adapter's tensors under the saved keys, in torch layouts (the caller disposes them). */
  save(layers: readonly AdapterLayerEntry[], adapterName: string): Record<string, tf.Tensor>;
  /**
   * Loads saved tensors into the adapter. Everything is checked before anything is written:
   * missing or mis-shaped tensors throw an AdapterFormatError, unexpected ones warn.
   */
  load(layers: readonly AdapterLayerEntry[], adapterName: string, tensors: Readonly<Record<string, tf.Tensor>>): void;
}

/** What a training engine tells a tuner's training hooks. */
export interface TrainingHookContext {
  /** The PeftModel being trained (typed loosely so the spec imports no implementation). */
  readonly peftModel: unknown;
  readonly adapterName: string;
  /** Optimizer steps completed so far, counting the one that just ran (1 after the first step). */
  readonly globalStep: number;
}

/**
 * Per-step hooks a training engine runs for a tuner, as PEFT users call them by hand
 * (a rank allocator's regulariser and its per-step budget update).
 */
export interface TunerTrainingHooks {
  /** An extra loss term, computed inside the gradient tape and added to each micro-batch loss. */
  extraLoss?(context: TrainingHookContext): tf.Scalar | null;
  /**
   * Runs after each optimizer step, before the gradients are released. `gradients` holds the
   * step's (accumulated, clipped) gradient of every trainable variable, by variable name.
   */
  afterOptimizerStep?(context: TrainingHookContext & { readonly gradients: ReadonlyMap<string, tf.Tensor> }): void;
}

/**
 * The tuner plugin interface, version 1. A method package implements it and calls
 * `registerTuner(tuner)`; core never names a method. Versioned so core can adapt to old and
 * new plugins (it refuses versions it does not know).
 */
export interface TunerV1<Config extends PeftConfig = PeftConfig> {
  readonly specificationVersion: 'v1';
  /** The value written to adapter_config.json's `peft_type`: upper case, as PEFT's PeftType */
  readonly peftType: string;
  /** Marks this tuner's weights in PEFT's key names (`<method>_`); unique across tuners. */
  readonly weightPrefix: string;
  /**
   * Registers beside a tuner with the very same weightPrefix instead of being refused: for a
   * method that PEFT saves under another method's prefix (adapters are told apart by peft_type).
   */
  readonly sharesWeightPrefix?: boolean;
  /** The npm package that provides the tuner, named in errors when it is missing. */
  readonly packageName?: string;
  /** Layer classes this tuner puts into models; core registers them for serialization. */
  readonly layers: readonly SerializableLayerClass[];
  /** tfjs layer class names the tuner can adapt (checked before createLayer, named in errors). */
  readonly supportedLayerClasses: readonly string[];
  /** Overrides the class-name check, e.g. to accept every class registered as linear. */
  canAdapt?(layer: layers.Layer): boolean;
  /**
   * Default targets per model type (PEFT's TRANSFORMERS_MODELS_TO_*_TARGET_MODULES_MAPPING): the
   * method package owns its table. Core looks a model type up here after explicit registrations
   * (`registerTargetDefaults`, an architecture's own `defaultTargets`) and before
   * `defaultTargetsForArchitecture`.
   */
  readonly defaultTargets?: Readonly<Record<string, TargetDefaults>>;

  /** Validates raw config (snake_case JSON or camelCase options) and fills every default. */
  parseConfig(raw: unknown): Config;
  /** The JSON object Python PEFT writes for this config (snake_case, every key). */
  serializeConfig(config: Config): Record<string, unknown>;
  /** Default targets from a custom architecture's layer roles, when no explicit defaults exist. */
  defaultTargetsForArchitecture?(architecture: ArchitectureConfig): TargetDefaults | undefined;
  /**
   * Applies a model type's defaults to a config whose `target_modules` was unset (core has
   * already filled `targetModules`). Default: every other field of `defaults` fills the config
   * field of that name while it is null.
   */
  applyTargetDefaults?(config: Config, defaults: TargetDefaults): Config;
  /** Fills model-dependent config fields (default targets, fan_in_fan_out, ...); returns a new config. */
  prepareConfig?(config: Config, model: ModelContext): Config;
  /**
   * Chooses the layers to wrap itself instead of matching `target_modules` (prompt learning wraps
   * the word embedding, the attention-mask layer, the attention cores). Returns module paths out
   * of `layers`, and throws a PeftError that names what is missing when the model lacks them.
   * With it, `prepareConfig` runs first and the targeting fields are not read.
   */
  selectTargets?(config: Config, model: ModelContext, layers: readonly NamedLayer[]): string[];
  /** Saves and loads adapters in a format of its own (see AdapterStateDictFormat); default: core's per-layer keys. */
  readonly stateDictFormat?: AdapterStateDictFormat;
  /** Refuses an adapter that cannot live beside the existing ones (e.g. a bias option that allows one adapter only). */
  checkNewAdapter?(config: Config, existing: ReadonlyMap<string, Config>): void;
  /**
   * Parameters outside the adapter's own that train with it (a bias option), by in-memory name.
   * Called for each active adapter not in inference mode when trainability is set.
   */
  trainableParameters?(config: Config, context: AdapterParameterContext): Iterable<string>;
  /**
   * Parameters outside the adapter's own that its state dict also holds (a bias option), by
   * in-memory name; saved under `base_model.model.<name>` and optional on load.
   */
  savedParameters?(config: Config, context: AdapterParameterContext): Iterable<string>;
  /** A warning to give when the adapter's layers are disabled but its effect stays (trained biases); undefined for none. */
  disableWarning?(config: Config): string | undefined;
  /** Wraps a base layer in this tuner's layer, with the adapter added. */
  createLayer(baseLayer: layers.Layer, context: LayerContext<Config>): TunerLayer;
  /** Adds an adapter to a layer this tuner already wrapped. */
  updateLayer(layer: TunerLayer, context: LayerContext<Config>): void;
  /** Per-step hooks the training engine runs (optional). */
  readonly training?: TunerTrainingHooks;
  /** How the tuner's adapters change autoregressive generation (optional; see GenerationPlan). */
  readonly generation?: TunerGenerationHooks;
  /**
   * Whether adapters of this tuner can share a model with other tuners' adapters (PEFT's
   * PeftMixedModel, `getPeftModel(model, config, { mixed: true })`). Its layers must then accept
   * another tuner's layer as their base layer, add their delta to that layer's output
   * (TunerLayer.preActivationCall) and merge into the innermost base layer.
   */
  readonly mixedCompatible?: boolean;
}

/** Any tuner of any specification version: what the registry accepts and checks. */
export type AnyTuner = TunerV1<any> | { readonly specificationVersion: string; readonly peftType: string };
