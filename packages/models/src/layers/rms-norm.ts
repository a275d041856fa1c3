import * as tf from '@tensorflow/tfjs-core';
import { layers, initializers, type LayerVariable } from '@tensorflow/tfjs-layers';
import { registerLayerFormat } from '@peftjs/core';
import { rmsNormOp } from './fused/rms-norm-op';
import { single, singleShape, type Kwargs, type Shape } from './layer-utils';

export interface RMSNormArgs {
  name: string;
  epsilon: number;
  /** Initial weight: 'ones' (Llama) or 'zeros' when weights are loaded afterwards. */
  initializer?: 'ones' | 'zeros';
  trainable?: boolean;
}

/** Llama's RMSNorm: `x * rsqrt(mean(x²) + eps) * weight`, with the weight named `weight`. */
export class LlamaRMSNorm extends layers.Layer {
  static className = 'LlamaRMSNorm';
  readonly epsilon: number;
  private readonly initializerName: 'ones' | 'zeros';
  private weightVariable: LayerVariable | undefined;

  constructor(args: RMSNormArgs) {
    super({ name: args.name, trainable: args.trainable ?? true });
    this.epsilon = args.epsilon;
    this.initializerName = args.initializer ?? 'ones';
  }

  override build(inputShape: Shape | Shape[]): void {
    const shape = singleShape(inputShape);
    const size = shape[shape.length - 1];
    if (size === null || size === undefined) throw new Error(`${this.name}: the last input dimension must be known`);
    const initializer = this.initializerName === 'ones' ? initializers.ones() : initializers.zeros();
    this.weightVariable = this.addWeight('weight', [size], 'float32', initializer);
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return singleShape(inputShape);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return rmsNormOp(single(inputs), this.weightVariable!.read(), this.epsilon);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), epsilon: this.epsilon };
  }
}

tf.serialization.registerClass(LlamaRMSNorm);
registerLayerFormat(LlamaRMSNorm.className, { weights: { weight: { torchName: 'weight' } } });
