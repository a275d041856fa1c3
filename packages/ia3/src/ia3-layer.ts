import * as tf from '@tensorflow/tfjs-core';
import { LayerVariable } from '@tensorflow/tfjs-layers';
import { AdapterStateError, BASE_ADAPTER_NAME, currentForwardContext, TunerLayer, warn, type ParamRef, type TunerLayerArgs, type VariableUpdate } from '@peftjs/core';

/** Per-layer options of one IA3 adapter. */
export interface IA3LayerOptions {
  isFeedforward: boolean;
  initIa3Weights: boolean;
}

/** Stored as a vector; torch keeps `[out, 1]`, `[1, in]` or `[1, C, 1, 1]`. */
function vectorParam(variable: LayerVariable, torchShape: number[]): ParamRef {
  return {
    variable,
    torchShape,
    toTorch: (value) => tf.reshape(value, torchShape),
    fromTorch: (value) => tf.reshape(value, [value.size]),
  };
}

const UNMERGE_EPSILON = 1e-8;

/**
 * IA3 on a Dense-like or Conv2D layer: a learned vector scales the layer's output (bias
 * included) or, for feed-forward layers, its input. Channels are the last axis in tfjs, so one
 * broadcasting multiply serves both layer kinds.
 */
abstract class IA3Layer extends TunerLayer {
  readonly peftType = 'IA3';
  private readonly vectors = new Map<string, LayerVariable>();

  protected abstract get isConv(): boolean;

  private get inputSize(): number {
    const kernel = this.baseLayer.weights[0]!;
    return kernel.shape[kernel.shape.length - 2] as number;
  }

  private get outputSize(): number {
    const kernel = this.baseLayer.weights[0]!;
    return kernel.shape[kernel.shape.length - 1] as number;
  }

  private options(adapterName: string): IA3LayerOptions {
    return this.getAdapterOptions<IA3LayerOptions>(adapterName);
  }

  /** A layer is feed-forward for all its adapters or for none (they scale the same side). */
  get isFeedforward(): boolean {
    const first = this.adapterNames[0];
    return first ? this.options(first).isFeedforward : false;
  }

  protected createAdapter(adapterName: string, rawOptions: unknown): Map<string, ParamRef> {
    const options = rawOptions as IA3LayerOptions;
    if (this.adapterNames.length > 0 && this.isFeedforward !== options.isFeedforward) {
      throw new AdapterStateError(`layer "${this.name}" is ${this.isFeedforward ? '' : 'not '}feed-forward for its other IA3 adapters; adapter "${adapterName}" must agree`);
    }
    const size = options.isFeedforward ? this.inputSize : this.outputSize;
    const init = options.initIa3Weights ? tf.ones([size]) : tf.randomNormal([size]);
    const vector = new LayerVariable(init, 'float32', `${this.name}/ia3_l.${adapterName}`, true);
    init.dispose();
    this.vectors.set(adapterName, vector);
    const torchShape = this.isConv ? [1, size, 1, 1] : options.isFeedforward ? [1, size] : [size, 1];
    return new Map([[`ia3_l.${adapterName}`, vectorParam(vector, torchShape)]]);
  }

  protected override onAdapterDeleted(adapterName: string): void {
    this.vectors.delete(adapterName);
  }

  /** The product of the active adapters' vectors, `[size]`, or per row `[batch, size]` for a mixed batch. */
  private scaling(batch: number): tf.Tensor {
    const names = currentForwardContext()?.adapterNames;
    if (!names) {
      return this.activeAdapterNames.map((name) => this.vectors.get(name)!.read()).reduce((product, vector) => tf.mul(product, vector));
    }
    if (names.length !== batch) throw new AdapterStateError(`adapterNames has ${names.length} entries but the batch has ${batch} rows`);
    const size = this.isFeedforward ? this.inputSize : this.outputSize;
    const ones = tf.ones([size]);
    return tf.stack(names.map((name) => (name === BASE_ADAPTER_NAME || !this.vectors.has(name) ? ones : this.vectors.get(name)!.read())));
  }

  protected adaptedCall(input: tf.Tensor, kwargs: Record<string, unknown>): tf.Tensor {
    let scaling = this.scaling(input.shape[0]!);
    if (scaling.rank === 2) scaling = tf.reshape(scaling, [scaling.shape[0]!, ...new Array(input.rank - 2).fill(1), scaling.shape[1]!]);
    if (this.isFeedforward) return this.baseLayer.call(tf.mul(input, scaling), kwargs) as tf.Tensor;
    return tf.mul(this.baseLayer.call(input, kwargs) as tf.Tensor, scaling);
  }

  private kernelScale(vector: tf.Tensor, feedforward: boolean): tf.Tensor {
    if (!feedforward) return vector;
    const rank = this.baseLayer.weights[0]!.shape.length;
    return tf.reshape(vector, [...new Array(rank - 2).fill(1), vector.size, 1]);
  }

  private scaledUpdates(adapterName: string, combine: (value: tf.Tensor, scale: tf.Tensor) => tf.Tensor): VariableUpdate[] {
    const vector = this.vectors.get(adapterName)!.read();
    const feedforward = this.options(adapterName).isFeedforward;
    const [kernel, bias] = this.baseLayer.weights;
    const updates: VariableUpdate[] = [{ variable: kernel!, value: tf.tidy(() => combine(kernel!.read(), this.kernelScale(vector, feedforward))) }];
    if (bias && !feedforward) updates.push({ variable: bias, value: tf.tidy(() => combine(bias.read(), vector)) });
    return updates;
  }

  protected mergeUpdates(adapterName: string): VariableUpdate[] {
    return this.scaledUpdates(adapterName, (value, scale) => tf.mul(value, scale));
  }

  protected unmergeUpdates(adapterName: string): VariableUpdate[] {
    warn('Unmerge result can be inaccurate for (IA)^3.');
    // PEFT 0.11.1 multiplies a Conv2d bias again on unmerge; dividing is the inverse of the merge.
    return this.scaledUpdates(adapterName, (value, scale) => tf.div(value, tf.add(scale, UNMERGE_EPSILON)));
  }
}

export class IA3Dense extends IA3Layer {
  static className = 'IA3Dense';
  protected get isConv(): boolean {
    return false;
  }
  constructor(args: TunerLayerArgs) {
    super(args);
  }
  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return TunerLayer.fromTunerConfig((args) => new IA3Dense(args), config) as unknown as T;
  }
}

export class IA3Conv2D extends IA3Layer {
  static className = 'IA3Conv2D';
  protected get isConv(): boolean {
    return true;
  }
  constructor(args: TunerLayerArgs) {
    super(args);
  }
  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return TunerLayer.fromTunerConfig((args) => new IA3Conv2D(args), config) as unknown as T;
  }
}
