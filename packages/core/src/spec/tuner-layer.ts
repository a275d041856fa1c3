import * as tf from '@tensorflow/tfjs-core';
import { layers, type LayerVariable } from '@tensorflow/tfjs-layers';
import { AdapterFormatError, AdapterStateError, MergeError, NoSuchAdapterError } from '../errors';
import { layerParameters } from '../model/layer-parameters';
import { warn } from '../util/warn';
import type { ParamRef } from './param-ref';

type Kwargs = Record<string, unknown>;
type Shape = Array<number | null>;

const TUNER_LAYER = Symbol.for('peftjs.tunerLayer');

/** A new value for one variable, computed by a merge or unmerge before anything is written. */
export interface VariableUpdate {
  readonly variable: LayerVariable;
  readonly value: tf.Tensor;
}

/** Arguments every tuner layer is constructed with. */
export interface TunerLayerArgs {
  baseLayer: layers.Layer;
  name?: string;
}

/**
 * The base of every layer a tuner puts in a model (PEFT's BaseTunerLayer): it wraps the original
 * layer under the same name, holds any number of named adapters, and keeps the state PEFT keeps
 * per layer — active adapters, merged adapters, disabled. Subclasses add the method's weights
 * and math; the model-level operations in core drive them through this class.
 */
export abstract class TunerLayer extends layers.Layer {
  readonly [TUNER_LAYER] = true;
  /** The PEFT type of the tuner that owns this layer (its `peftType`). */
  abstract readonly peftType: string;
  readonly baseLayer: layers.Layer;
  /** Adapters in the order they were added, with the per-layer options each was created from. */
  protected readonly adapterOptions = new Map<string, unknown>();
  /** The variables of each adapter, by the local torch name (`<prefix>A.<adapter>.weight`). */
  protected readonly adapterParams = new Map<string, Map<string, ParamRef>>();
  protected activeAdapterNames: string[] = [];
  protected mergedAdapterNames: string[] = [];
  protected disabledFlag = false;

  static isTunerLayer(value: unknown): value is TunerLayer {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[TUNER_LAYER] === true;
  }

  constructor(args: TunerLayerArgs) {
    super({ name: args.name ?? args.baseLayer.name, dtype: args.baseLayer.dtype, trainable: true });
    this.baseLayer = args.baseLayer;
    if (args.baseLayer.built) this.built = true;
  }

  // ---- what a method implements -------------------------------------------------------------

  /** Creates the adapter's variables from the per-layer options (rank, alpha, ...). */
  protected abstract createAdapter(adapterName: string, options: unknown): Map<string, ParamRef>;
  /** New values of the base variables with the adapter folded in. */
  protected abstract mergeUpdates(adapterName: string): VariableUpdate[];
  /** New values of the base variables with the adapter taken back out. */
  protected abstract unmergeUpdates(adapterName: string): VariableUpdate[];
  /** The output for concrete inputs with the current adapter state. */
  protected abstract adaptedCall(inputs: tf.Tensor, kwargs: Kwargs): tf.Tensor;
  /** Called after an adapter's variables were disposed, to drop any other per-adapter state. */
  protected onAdapterDeleted(_adapterName: string): void {}

  // ---- nesting (mixed adapter types) ----------------------------------------------------------

  /**
   * The plain layer under this one. In a mixed model (PEFT's PeftMixedModel) a tuner layer can wrap
   * another tuner's layer; `baseLayer` is then that tuner layer, and this is the layer at the bottom.
   */
  get innermostBaseLayer(): layers.Layer {
    return innermostLayer(this.baseLayer);
  }

  /**
   * This layer's output before the base layer's activation, with the active adapters (its own and
   * those of the layers it wraps) applied. An outer tuner layer of a mixed model adds its own delta
   * to this and applies the activation once. This default runs the layer, which is exact when the
   * base layer has no activation (torch's Linear and Conv2d never have one); a method overrides it
   * to support activations.
   */
  preActivationCall(inputs: tf.Tensor, kwargs: Kwargs): tf.Tensor {
    const base = this.innermostBaseLayer;
    const activation = (base as { activation?: { getClassName?(): string } | null }).activation;
    if (activation && activation.getClassName?.() !== 'linear') {
      throw new AdapterStateError(
        `layer "${this.name}" (${this.getClassName()}) cannot be wrapped by another tuner's layer: its base layer has the activation "${activation.getClassName?.()}" and ${this.getClassName()} gives no output before it`,
      );
    }
    return this.call(inputs, kwargs) as tf.Tensor;
  }

  // ---- adapters -------------------------------------------------------------------------------

  get adapterNames(): string[] {
    return [...this.adapterOptions.keys()];
  }

  get activeAdapters(): string[] {
    return [...this.activeAdapterNames];
  }

  get mergedAdapters(): string[] {
    return [...this.mergedAdapterNames];
  }

  get merged(): boolean {
    return this.mergedAdapterNames.length > 0;
  }

  get disabled(): boolean {
    return this.disabledFlag;
  }

  hasAdapter(adapterName: string): boolean {
    return this.adapterOptions.has(adapterName);
  }

  /** The options an adapter was created with. */
  getAdapterOptions<T>(adapterName: string): T {
    this.assertAdapter(adapterName);
    return this.adapterOptions.get(adapterName) as T;
  }

  /** Adds an adapter (inactive until set active). */
  addAdapter(adapterName: string, options: unknown): void {
    if (this.adapterOptions.has(adapterName)) {
      throw new AdapterStateError(`layer "${this.name}" already has an adapter named "${adapterName}"`);
    }
    const params = this.createAdapter(adapterName, options);
    this.adapterOptions.set(adapterName, options);
    this.adapterParams.set(adapterName, params);
  }

  /** Removes an adapter and frees its variables. */
  deleteAdapter(adapterName: string): void {
    this.assertAdapter(adapterName);
    if (this.mergedAdapterNames.includes(adapterName)) this.unmerge();
    for (const param of this.adapterParams.get(adapterName)!.values()) param.variable.dispose();
    this.adapterParams.delete(adapterName);
    this.adapterOptions.delete(adapterName);
    this.activeAdapterNames = this.activeAdapterNames.filter((name) => name !== adapterName);
    this.onAdapterDeleted(adapterName);
  }

  /** Frees every adapter's variables and keeps the base weights as they are now (merged or not). */
  releaseAdapters(): void {
    this.mergedAdapterNames = [];
    for (const name of this.adapterNames) this.deleteAdapter(name);
  }

  /** Makes these adapters the active ones (unmerging first if any adapter is merged). */
  setActiveAdapters(adapterNames: readonly string[]): void {
    for (const name of adapterNames) this.assertAdapter(name);
    if (this.merged) {
      warn(`adapters are merged in layer "${this.name}"; unmerging before changing the active adapters`);
      this.unmerge();
    }
    this.activeAdapterNames = adapterNames.filter((name) => this.adapterOptions.has(name));
  }

  setDisabled(disabled: boolean): void {
    if (disabled && this.merged) this.unmerge();
    this.disabledFlag = disabled;
  }

  /** Torch-named parameters of one adapter, for saving, loading and trainability. */
  adapterParameters(adapterName: string): Map<string, ParamRef> {
    this.assertAdapter(adapterName);
    return new Map(this.adapterParams.get(adapterName));
  }

  /** Every parameter under its PEFT in-memory name: `base_layer.weight`, `<prefix>A.default.weight`, ... */
  namedParameters(): Map<string, ParamRef> {
    const result = new Map<string, ParamRef>();
    // A nested tuner layer (mixed models) keeps its own names one `base_layer.` deeper, as in PEFT.
    const base = TunerLayer.isTunerLayer(this.baseLayer) ? this.baseLayer.namedParameters() : layerParameters(this.baseLayer);
    for (const [name, param] of base) result.set(`base_layer.${name}`, param);
    for (const params of this.adapterParams.values()) for (const [name, param] of params) result.set(name, param);
    return result;
  }

  // ---- merging -------------------------------------------------------------------------------

  /** Folds adapters into the base weights. With `safeMerge`, non-finite results throw and nothing changes. */
  async merge(adapterNames: readonly string[] = this.activeAdapterNames, options: { safeMerge?: boolean } = {}): Promise<void> {
    for (const name of adapterNames) this.assertAdapter(name);
    const toMerge = adapterNames.filter((name) => !this.mergedAdapterNames.includes(name));
    for (const adapterName of toMerge) {
      const updates = this.mergeUpdates(adapterName);
      if (options.safeMerge && !(await allFinite(updates.map((update) => update.value)))) {
        for (const update of updates) update.value.dispose();
        throw new MergeError(`NaNs detected in the merged weights. The adapter ${adapterName} seems to be broken`);
      }
      for (const update of updates) {
        update.variable.write(update.value);
        update.value.dispose();
      }
      this.mergedAdapterNames.push(adapterName);
    }
  }

  /** Takes merged adapters back out, last merged first. */
  unmerge(): void {
    while (this.mergedAdapterNames.length > 0) {
      const adapterName = this.mergedAdapterNames[this.mergedAdapterNames.length - 1]!;
      for (const update of this.unmergeUpdates(adapterName)) {
        update.variable.write(update.value);
        update.value.dispose();
      }
      this.mergedAdapterNames.pop();
    }
  }

  // ---- tfjs Layer ------------------------------------------------------------------------------

  override get trainableWeights(): LayerVariable[] {
    if (!this.trainable) return [];
    const own = [...this.adapterParams.values()].flatMap((params) => [...params.values()].map((param) => param.variable));
    return [...this.baseLayer.trainableWeights, ...own.filter((variable) => variable.trainable)];
  }

  override set trainableWeights(_weights: LayerVariable[]) {
    // Weights are owned by the base layer and the adapter maps; tfjs' setter is not used.
  }

  override get nonTrainableWeights(): LayerVariable[] {
    const own = [...this.adapterParams.values()].flatMap((params) => [...params.values()].map((param) => param.variable));
    if (!this.trainable) return [...this.baseLayer.weights, ...own];
    return [...this.baseLayer.nonTrainableWeights, ...own.filter((variable) => !variable.trainable)];
  }

  override set nonTrainableWeights(_weights: LayerVariable[]) {}

  override build(inputShape: Shape | Shape[]): void {
    if (!this.baseLayer.built) this.baseLayer.build(inputShape);
    this.built = true;
    this.finishDeserialization();
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape | Shape[] {
    return this.baseLayer.computeOutputShape(inputShape);
  }

  override computeMask(inputs: tf.Tensor | tf.Tensor[], mask?: tf.Tensor | tf.Tensor[]): tf.Tensor | tf.Tensor[] {
    return this.baseLayer.computeMask(inputs, mask);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    return tf.tidy(() => {
      const input = Array.isArray(inputs) ? inputs[0]! : inputs;
      if (this.disabledFlag || this.merged || this.activeAdapterNames.length === 0) {
        return this.baseLayer.call(input, kwargs) as tf.Tensor;
      }
      return this.adaptedCall(input, kwargs);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      baseLayer: { className: this.baseLayer.getClassName(), config: this.baseLayer.getConfig() },
      adapters: Object.fromEntries(this.adapterOptions) as tf.serialization.ConfigDict,
      activeAdapters: [...this.activeAdapterNames],
    };
  }

  /** Rebuilds a tuner layer from getConfig(): the base layer, then each adapter (values come with the model's weights). */
  static fromTunerConfig<T extends TunerLayer>(create: (args: TunerLayerArgs) => T, config: tf.serialization.ConfigDict): T {
    const base = config.baseLayer as { className: string; config: tf.serialization.ConfigDict };
    const [cls, fromConfig] = lookupSerializable(base.className);
    const baseLayer = fromConfig(cls, base.config) as layers.Layer;
    const layer = create({ baseLayer, name: config.name as string });
    layer.pendingAdapters = config.adapters as Record<string, unknown>;
    layer.pendingActive = (config.activeAdapters as string[]) ?? [];
    return layer;
  }

  private pendingAdapters: Record<string, unknown> | undefined;
  private pendingActive: string[] = [];

  /** Adapters from a deserialized config are created when the layer is built (weights need the base shapes). */
  protected finishDeserialization(): void {
    if (!this.pendingAdapters) return;
    const pending = this.pendingAdapters;
    this.pendingAdapters = undefined;
    for (const [name, options] of Object.entries(pending)) this.addAdapter(name, options);
    this.setActiveAdapters(this.pendingActive);
  }

  protected assertAdapter(adapterName: string): void {
    if (!this.adapterOptions.has(adapterName)) throw new NoSuchAdapterError({ adapterName, available: this.adapterNames });
  }

  /** Checks a tensor from a file against the parameter it is meant for. */
  protected static checkShape(key: string, param: ParamRef, value: tf.Tensor): void {
    const expected = param.torchShape;
    if (value.shape.length !== expected.length || value.shape.some((size, index) => size !== expected[index])) {
      throw new AdapterFormatError(`tensor "${key}" has shape [${value.shape.join(', ')}]; the model expects [${expected.join(', ')}]`, { tensorName: key });
    }
  }
}

/** The plain layer under any stack of tuner layers (the layer itself when it is not a tuner layer). */
export function innermostLayer(layer: layers.Layer): layers.Layer {
  let current = layer;
  while (TunerLayer.isTunerLayer(current)) current = current.baseLayer;
  return current;
}

/** The tuner layers of a stack, outermost first (empty when `layer` is not a tuner layer). */
export function tunerLayerStack(layer: layers.Layer): TunerLayer[] {
  const stack: TunerLayer[] = [];
  let current = layer;
  while (TunerLayer.isTunerLayer(current)) {
    stack.push(current);
    current = current.baseLayer;
  }
  return stack;
}

async function allFinite(values: readonly tf.Tensor[]): Promise<boolean> {
  for (const value of values) {
    const check = tf.tidy(() => tf.all(tf.isFinite(value)));
    const [finite] = await check.data();
    check.dispose();
    if (finite !== 1) return false;
  }
  return true;
}

export function lookupSerializable(
  className: string,
): [tf.serialization.SerializableConstructor<tf.serialization.Serializable>, tf.serialization.FromConfigMethod<tf.serialization.Serializable>] {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className];
  if (!entry) throw new AdapterStateError(`layer class "${className}" is not registered with tf.serialization.registerClass`);
  return entry;
}
