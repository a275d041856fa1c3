import * as tf from '@tensorflow/tfjs-core';
import { initializers, layers, type LayerVariable } from '@tensorflow/tfjs-layers';
import { registerLayerFormat } from '@peftjs/core';

/** An RMSNorm with one `weight` (Llama's): `x · rsqrt(mean(x²) + eps) · weight`. */
export class TestRMSNorm extends layers.Layer {
  static className = 'TestRMSNorm';
  private weightVariable: LayerVariable | undefined;
  readonly epsilon: number;

  constructor(args: { name?: string; epsilon?: number }) {
    super({ name: args.name });
    this.epsilon = args.epsilon ?? 1e-6;
  }

  override build(inputShape: Array<number | null> | Array<Array<number | null>>): void {
    const shape = inputShape as Array<number | null>;
    this.weightVariable = this.addWeight('weight', [shape[shape.length - 1]!], 'float32', initializers.ones());
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      return tf.mul(this.weightVariable!.read(), tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), this.epsilon))));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), epsilon: this.epsilon };
  }
}

tf.serialization.registerClass(TestRMSNorm);
registerLayerFormat(TestRMSNorm.className, { weights: { weight: { torchName: 'weight' } } });
