import * as tf from '@tensorflow/tfjs-core';
import type { layers } from '@tensorflow/tfjs-layers';
import { AdapterStateError, layerParameters, TunerLayer, warn, type ParamRef, type TunerLayerArgs, type VariableUpdate } from '@peftjs/core';
import { LN_TUNING_PEFT_TYPE } from './ln-tuning-config';

type Kwargs = Record<string, unknown>;
type Shape = Array<number | null>;

/** A registered layer class by name (what tf.serialization.registerClass recorded). */
function serializableClass(
  className: string,
): [tf.serialization.SerializableConstructor<tf.serialization.Serializable>, tf.serialization.FromConfigMethod<tf.serialization.Serializable>] | undefined {
  return tf.serialization.SerializationMap.getMap().classNameMap[className];
}

/** Whether a layer can be copied for LN tuning: a serializable class with weights. */
export function isCopyableLayer(layer: layers.Layer): boolean {
  return layer.weights.length > 0 && serializableClass(layer.getClassName()) !== undefined;
}

/**
 * PEFT's LNTuningLayer: each adapter is a full, trainable copy of the wrapped layer
 * (`ln_tuning_layers.<adapter>`), which runs in its place. One adapter at a time; merging swaps
 * the copy's weights into the base layer (and the base's into the copy, so unmerge swaps back).
 */
export class LNTuningLayer extends TunerLayer {
  static className = 'LNTuningLayer';
  readonly peftType = LN_TUNING_PEFT_TYPE;
  private readonly copies = new Map<string, layers.Layer>();
  private buildShape: Shape | Shape[] | undefined;

  constructor(args: TunerLayerArgs) {
    super(args);
  }

  /** The copy that runs for an adapter. */
  copyOf(adapterName: string): layers.Layer {
    this.assertAdapter(adapterName);
    return this.copies.get(adapterName)!;
  }

  /** The input shape the base layer was built for (a copy is built the same way). */
  private inputShape(): Shape | Shape[] {
    const node = this.baseLayer.inboundNodes[0];
    if (node) {
      const shapes = node.inputTensors.map((tensor) => [...tensor.shape]);
      return shapes.length === 1 ? shapes[0]! : shapes;
    }
    if (this.buildShape) return this.buildShape;
    // A deserialized wrapper: the base has never been called; a norm's input ends in its weight size.
    const weight = this.baseLayer.weights[0];
    if (!weight) throw new AdapterStateError(`cannot tell the input shape of layer "${this.baseLayer.name}": it has never been called and has no weights`);
    return [null, weight.shape[weight.shape.length - 1]!];
  }

  protected createAdapter(adapterName: string): Map<string, ParamRef> {
    const className = this.baseLayer.getClassName();
    const entry = serializableClass(className);
    if (!entry) throw new AdapterStateError(`layer class "${className}" is not registered with tf.serialization.registerClass, so LN tuning cannot copy "${this.name}"`);
    const [cls, fromConfig] = entry;
    const copy = fromConfig(cls, { ...this.baseLayer.getConfig(), name: `${this.name}.ln_tuning_layers.${adapterName}` }) as layers.Layer;
    copy.build(this.inputShape());
    // The copy's variables share the base values until training replaces them (tfjs assign swaps buffers).
    copy.setWeights(this.baseLayer.getWeights());
    this.copies.set(adapterName, copy);
    const params = new Map<string, ParamRef>();
    for (const [name, param] of layerParameters(copy)) params.set(`ln_tuning_layers.${adapterName}.${name}`, param);
    return params;
  }

  protected override onAdapterDeleted(adapterName: string): void {
    this.copies.delete(adapterName);
  }

  protected adaptedCall(inputs: tf.Tensor, kwargs: Kwargs): tf.Tensor {
    const active = this.activeAdapterNames;
    if (active.length !== 1) {
      throw new AdapterStateError(`Trying to run forward with ${active.length} active adapters, but LN tuning does not allow inference with more than one adapter at a time`);
    }
    return this.copies.get(active[0]!)!.call(inputs, kwargs) as tf.Tensor;
  }

  /** Both directions are the same swap of base and copy weights. */
  private swap(adapterName: string): VariableUpdate[] {
    const base = this.baseLayer.weights;
    const copy = this.copyOf(adapterName).weights;
    const updates: VariableUpdate[] = [];
    base.forEach((variable, index) => {
      const other = copy[index]!;
      updates.push({ variable, value: other.read().clone() }, { variable: other, value: variable.read().clone() });
    });
    return updates;
  }

  protected mergeUpdates(adapterName: string): VariableUpdate[] {
    return this.swap(adapterName);
  }

  protected unmergeUpdates(adapterName: string): VariableUpdate[] {
    return this.swap(adapterName);
  }

  /** PEFT merges one adapter at a time; merging another one unmerges the first. */
  override async merge(adapterNames: readonly string[] = this.activeAdapterNames, options: { safeMerge?: boolean } = {}): Promise<void> {
    const toMerge = adapterNames.filter((name) => !this.mergedAdapterNames.includes(name));
    if (toMerge.length === 0) return;
    if (toMerge.length > 1) {
      throw new AdapterStateError(`Trying to merge ${toMerge.length} adapters, but LN tuning does not allow merging more than one adapter at a time`);
    }
    if (this.merged) {
      warn(`Already merged with ${this.mergedAdapterNames.join(', ')}. Unmerging first.`);
      this.unmerge();
    }
    await super.merge(toMerge, options);
  }

  override build(inputShape: Shape | Shape[]): void {
    this.buildShape = inputShape;
    super.build(inputShape);
  }

  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return TunerLayer.fromTunerConfig((args) => new LNTuningLayer(args), config) as unknown as T;
  }
}
