import * as tf from '@tensorflow/tfjs-core';
import { layers } from '@tensorflow/tfjs-layers';
import { geluTanhOp, swigluOp } from './fused/gated-activation-op';
import { shapeList, single, singleShape, tensorList, type Kwargs, type Shape } from './layer-utils';

/** transformers' ACT2FN names supported here. */
export const ACTIVATIONS = ['gelu', 'gelu_new', 'gelu_pytorch_tanh', 'gelu_fast', 'quick_gelu', 'relu', 'silu', 'swish', 'tanh', 'sigmoid', 'linear'] as const;
export type ActivationName = (typeof ACTIVATIONS)[number];

export function isActivationName(name: string): name is ActivationName {
  return (ACTIVATIONS as readonly string[]).includes(name);
}

/** Applies a transformers activation with the same formula transformers uses. */
export function applyActivation(name: ActivationName, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    switch (name) {
      case 'gelu':
        // exact GELU: 0.5 x (1 + erf(x / sqrt(2)))
        return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.div(x, Math.SQRT2))));
      case 'gelu_new':
      case 'gelu_pytorch_tanh':
        // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x³))), one op with its own gradient.
        return geluTanhOp(x);
      case 'gelu_fast':
        return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(tf.mul(x, 0.7978845608), tf.add(1, tf.mul(tf.mul(x, x), 0.044715))))));
      case 'quick_gelu':
        return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
      case 'relu':
        return tf.relu(x);
      case 'silu':
      case 'swish':
        return tf.mul(x, tf.sigmoid(x));
      case 'tanh':
        return tf.tanh(x);
      case 'sigmoid':
        return tf.sigmoid(x);
      case 'linear':
        return tf.clone(x);
    }
  });
}

/** An element-wise transformers activation as its own graph layer (projections stay linear, so adapters wrap only the matmul). */
export class HFActivation extends layers.Layer {
  static className = 'HFActivation';
  readonly activation: ActivationName;

  constructor(args: { name: string; activation: ActivationName }) {
    super({ name: args.name, trainable: false });
    this.activation = args.activation;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return singleShape(inputShape);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return applyActivation(this.activation, single(inputs));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), activation: this.activation };
  }
}

/** Llama's gated MLP core: `[gate, up]` → `act(gate) * up`. */
export class GatedActivation extends layers.Layer {
  static className = 'GatedActivation';
  readonly activation: ActivationName;

  constructor(args: { name: string; activation: ActivationName }) {
    super({ name: args.name, trainable: false });
    this.activation = args.activation;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return shapeList(inputShape)[0]!;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const [gate, up] = tensorList(inputs);
      if (this.activation === 'silu' || this.activation === 'swish') return swigluOp(gate!, up!);
      return tf.mul(applyActivation(this.activation, gate!), up!);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), activation: this.activation };
  }
}

tf.serialization.registerClass(HFActivation);
tf.serialization.registerClass(GatedActivation);
