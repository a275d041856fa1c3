import * as tf from '@tensorflow/tfjs-core';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import { isFrozenLinearLayer, TunerLayer, type TunerLayerArgs } from '@peftjs/core';
import { matMulLastAxis, findWeight, requireWeight } from './layer-weights';
import { layerActivation, LoraLayer } from './lora-layer';

/**
 * LoRA on a Dense layer, or on any layer class registered as linear whose kernel is `[in, out]`
 * (a GPT-2 Conv1D, say): y = act(x·W + b + s·x·Aᵀ·Bᵀ), with PEFT's saved A `[r, in]` and B `[out, r]`
 * kept as tfjs `[in, r]` and `[r, out]`.
 */
export class LoraDense extends LoraLayer {
  static className = 'LoraDense';
  protected readonly factorNames = { a: 'lora_A', b: 'lora_B', suffix: '.weight' };
  protected readonly supportsDora = true;
  protected readonly usesDropout = true;
  protected readonly factorPermutation = [1, 0] as const;

  constructor(args: TunerLayerArgs) {
    super(args);
  }

  private kernelVariable: LayerVariable | undefined;
  private biasVariable: LayerVariable | null | undefined;

  get kernel(): LayerVariable {
    return (this.kernelVariable ??= requireWeight(this.innermostBaseLayer, 'kernel', 2));
  }

  private get bias(): LayerVariable | undefined {
    if (this.biasVariable === undefined) {
      const bias = findWeight(this.innermostBaseLayer, 'bias');
      this.biasVariable = bias && bias.shape.length === 1 ? bias : null;
    }
    return this.biasVariable ?? undefined;
  }

  get inFeatures(): number {
    return this.kernel.shape[0]!;
  }

  get outFeatures(): number {
    return this.kernel.shape[1]!;
  }

  protected factorShapes(r: number): { a: number[]; b: number[] } {
    return { a: [this.inFeatures, r], b: [r, this.outFeatures] };
  }

  protected fanIn(): number {
    return this.inFeatures;
  }

  protected preActivation(inputs: tf.Tensor): tf.Tensor {
    // A store-backed base applies its weight in place (reading the kernel would copy it into tfjs).
    if (isFrozenLinearLayer(this.baseLayer)) return this.baseLayer.frozenForward(inputs);
    const output = matMulLastAxis(inputs, this.kernel.read());
    const bias = this.bias;
    return bias ? tf.add(output, bias.read()) : output;
  }

  protected activate(outputs: tf.Tensor): tf.Tensor {
    const activation = layerActivation(this.innermostBaseLayer);
    return activation ? activation(outputs) : outputs;
  }

  protected applyKernel(inputs: tf.Tensor, kernel: tf.Tensor): tf.Tensor {
    return matMulLastAxis(inputs, kernel);
  }

  protected loraBranch(inputs: tf.Tensor, a: tf.Tensor, b: tf.Tensor): tf.Tensor {
    return matMulLastAxis(matMulLastAxis(inputs, a), b);
  }

  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return TunerLayer.fromTunerConfig((args) => new LoraDense(args), config) as unknown as T;
  }
}
