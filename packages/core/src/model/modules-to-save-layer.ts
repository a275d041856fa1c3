import * as tf from '@tensorflow/tfjs-core';
import { layers, type LayerVariable } from '@tensorflow/tfjs-layers';
import { AdapterStateError, NoSuchAdapterError } from '../errors';
import type { ParamRef } from '../spec/param-ref';
import { lookupSerializable } from '../spec/tuner-layer';
import { layerParameters } from './layer-parameters';

type Kwargs = Record<string, unknown>;
type Shape = Array<number | null>;

const MODULES_TO_SAVE = Symbol.for('peftjs.modulesToSaveLayer');

/**
 * A layer whose trainable copy is not a clone of itself. An output head tied to the token
 * embedding owns no weights; PEFT's deepcopy of it gets a weight of its own, so its copy is a
 * head with its own matrix, starting from the embedding's.
 */
export interface ModulesToSaveCopySource {
  /** A new, built layer named `name`, computing what this layer computes now, with weights of its own. */
  modulesToSaveCopy(name: string): layers.Layer;
}

function hasOwnCopy(layer: layers.Layer): layer is layers.Layer & ModulesToSaveCopySource {
  return typeof (layer as Partial<ModulesToSaveCopySource>).modulesToSaveCopy === 'function';
}

/**
 * PEFT's ModulesToSaveWrapper: the original layer stays frozen, each adapter trains a full copy
 * of it, and the active adapter's copy runs in its place. Saved as the original layer's weights.
 */
export class ModulesToSaveLayer extends layers.Layer {
  static className = 'ModulesToSave';
  readonly [MODULES_TO_SAVE] = true;
  readonly originalModule: layers.Layer;
  private readonly copies = new Map<string, layers.Layer>();
  private activeAdapter: string | null = null;
  private disabledFlag = false;
  private pendingAdapters: string[] = [];
  private pendingActive: string | null = null;

  static isModulesToSaveLayer(value: unknown): value is ModulesToSaveLayer {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MODULES_TO_SAVE] === true;
  }

  constructor(args: { originalModule: layers.Layer; name?: string }) {
    super({ name: args.name ?? args.originalModule.name, dtype: args.originalModule.dtype, trainable: true });
    this.originalModule = args.originalModule;
    if (args.originalModule.built) this.built = true;
  }

  get adapterNames(): string[] {
    return [...this.copies.keys()];
  }

  get activeAdapters(): string[] {
    return this.activeAdapter ? [this.activeAdapter] : [];
  }

  get disabled(): boolean {
    return this.disabledFlag;
  }

  hasAdapter(adapterName: string): boolean {
    return this.copies.has(adapterName);
  }

  /** The layer that runs for this adapter (its trainable copy). */
  module(adapterName: string): layers.Layer {
    const copy = this.copies.get(adapterName);
    if (!copy) throw new NoSuchAdapterError({ adapterName, available: this.adapterNames });
    return copy;
  }

  addAdapter(adapterName: string): void {
    if (this.copies.has(adapterName)) return;
    const original = this.originalModule;
    const name = `${this.name}/modules_to_save/${adapterName}`;
    if (hasOwnCopy(original)) {
      this.copies.set(adapterName, original.modulesToSaveCopy(name));
      return;
    }
    const [cls, fromConfig] = lookupSerializable(original.getClassName());
    const copy = fromConfig(cls, { ...original.getConfig(), name }) as layers.Layer;
    copy.build(inputShapeOf(original));
    // Variables share the original data until the first update replaces it (tfjs assign swaps buffers).
    copy.setWeights(original.getWeights());
    this.copies.set(adapterName, copy);
  }

  deleteAdapter(adapterName: string): void {
    const copy = this.module(adapterName);
    for (const weight of copy.weights) weight.dispose();
    this.copies.delete(adapterName);
    if (this.activeAdapter === adapterName) this.activeAdapter = null;
  }

  setActiveAdapters(adapterNames: readonly string[]): void {
    const held = adapterNames.filter((name) => this.copies.has(name));
    if (held.length > 1) {
      throw new AdapterStateError(`only one adapter can be active for modules_to_save layer "${this.name}"; got ${held.join(', ')}`);
    }
    this.activeAdapter = held[0] ?? null;
  }

  setDisabled(disabled: boolean): void {
    this.disabledFlag = disabled;
  }

  /** `original_module.weight`, `modules_to_save.<adapter>.weight`, ... as PEFT names them in memory. */
  namedParameters(): Map<string, ParamRef> {
    const result = new Map<string, ParamRef>();
    for (const [name, param] of layerParameters(this.originalModule)) result.set(`original_module.${name}`, param);
    for (const [adapterName, copy] of this.copies) {
      for (const [name, param] of layerParameters(copy)) result.set(`modules_to_save.${adapterName}.${name}`, param);
    }
    return result;
  }

  adapterParameters(adapterName: string): Map<string, ParamRef> {
    const result = new Map<string, ParamRef>();
    for (const [name, param] of layerParameters(this.module(adapterName))) result.set(`modules_to_save.${adapterName}.${name}`, param);
    return result;
  }

  private current(): layers.Layer {
    if (this.disabledFlag || this.activeAdapter === null) return this.originalModule;
    return this.copies.get(this.activeAdapter) ?? this.originalModule;
  }

  override get trainableWeights(): LayerVariable[] {
    if (!this.trainable) return [];
    return [this.originalModule, ...this.copies.values()].flatMap((layer) => layer.trainableWeights);
  }

  override set trainableWeights(_weights: LayerVariable[]) {}

  override get nonTrainableWeights(): LayerVariable[] {
    const all = [this.originalModule, ...this.copies.values()];
    if (!this.trainable) return all.flatMap((layer) => layer.weights);
    return all.flatMap((layer) => layer.nonTrainableWeights);
  }

  override set nonTrainableWeights(_weights: LayerVariable[]) {}

  override build(inputShape: Shape | Shape[]): void {
    if (!this.originalModule.built) this.originalModule.build(inputShape);
    this.built = true;
    const pending = this.pendingAdapters;
    this.pendingAdapters = [];
    for (const name of pending) this.addAdapter(name);
    if (this.pendingActive) this.setActiveAdapters([this.pendingActive]);
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape | Shape[] {
    return this.originalModule.computeOutputShape(inputShape);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    return this.current().call(inputs, kwargs);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      originalModule: { className: this.originalModule.getClassName(), config: this.originalModule.getConfig() },
      adapters: this.adapterNames,
      activeAdapter: this.activeAdapter,
    };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    const original = config.originalModule as { className: string; config: tf.serialization.ConfigDict };
    const [cls, fromConfig] = lookupSerializable(original.className);
    const layer = new ModulesToSaveLayer({ originalModule: fromConfig(cls, original.config) as layers.Layer, name: config.name as string });
    layer.pendingAdapters = (config.adapters as string[]) ?? [];
    layer.pendingActive = (config.activeAdapter as string | null) ?? null;
    return layer as unknown as T;
  }
}
tf.serialization.registerClass(ModulesToSaveLayer);

/** The input shape a built layer was last called with. */
export function inputShapeOf(layer: layers.Layer): Shape | Shape[] {
  const node = layer.inboundNodes[0];
  if (node) {
    const shapes = node.inputTensors.map((tensor) => [...tensor.shape]);
    return shapes.length === 1 ? shapes[0]! : shapes;
  }
  const declared = (layer as unknown as { batchInputShape?: Shape }).batchInputShape;
  if (declared) return [...declared];
  throw new AdapterStateError(`cannot tell the input shape of layer "${layer.name}": it has never been called`);
}
