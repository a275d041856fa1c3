import * as tf from '@tensorflow/tfjs-core';
import { layers as tflLayers } from '@tensorflow/tfjs-layers';
import type { layers } from '@tensorflow/tfjs-layers';
import type { DenseLayerArgs } from '@tensorflow/tfjs-layers/dist/layers/core';
import { single, type Kwargs } from './layer-utils';
import { frozenWeightFor } from '../frozen/frozen-build-scope';
import { FrozenLinear } from '../frozen/frozen-layers';

function plainProduct(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor | undefined): tf.Tensor {
  const output = tf.matMul(x, kernel);
  return bias ? tf.add(output, bias) : output;
}

/**
 * `x·W + b` for weights that do not train, with a gradient for x alone (`dy·Wᵀ`): the tape keeps
 * nothing (op by op it keeps x, which only the kernel's gradient reads, and the product, which
 * only the bias add's shapes read). The weights are read again in the backward pass.
 */
function frozenProduct(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor | undefined): tf.Tensor {
  const op = tf.customGrad(((input: tf.Tensor2D) => ({
    value: plainProduct(input, kernel, bias),
    gradFunc: (dy: tf.Tensor) => tf.matMul(dy as tf.Tensor2D, kernel, false, true),
  })) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x);
}

/** tfjs-layers does not export its Dense class; take it from an instance. */
const DenseClass = tflLayers.dense({ units: 1 }).constructor as new (args: DenseLayerArgs) => layers.Layer;

/**
 * A tfjs `Dense` (same class name, weights, config and serialization) whose call uses plain
 * `matMul` + `add` instead of `tf.fused.matMul`. The fused op's gradient computes the kernel's
 * gradient even when the kernel is frozen, so with stock Dense layers an adapter-only training
 * step costs as much as full fine-tuning; through plain ops tfjs skips the frozen kernels.
 * Always linear: activations are separate layers, so adapters wrap only the projection.
 */
export class Linear extends DenseClass {
  constructor(args: DenseLayerArgs) {
    if (args.activation !== undefined && args.activation !== 'linear') throw new Error(`${args.name ?? 'Linear'}: a Linear layer has no activation`);
    super(args);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const input = single(inputs);
      const [kernel, bias] = this.weights.map((weight) => weight.read());
      const size = input.shape[input.rank - 1]!;
      const flat = input.rank === 2 ? input : tf.reshape(input, [-1, size]);
      const frozen = !this.weights.some((weight) => weight.trainable) && (tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn();
      const output = frozen ? frozenProduct(flat as tf.Tensor2D, kernel as tf.Tensor2D, bias) : plainProduct(flat as tf.Tensor2D, kernel as tf.Tensor2D, bias);
      return input.rank === 2 ? output : tf.reshape(output, [...input.shape.slice(0, -1), kernel!.shape[1]!]);
    });
  }
}

export function linear(args: DenseLayerArgs): layers.Layer {
  // Inside buildWithFrozenWeights, a layer whose weight is in the store is built over it.
  const weight = args.name === undefined ? undefined : frozenWeightFor({ name: args.name, kind: 'linear', units: args.units });
  return weight ? new FrozenLinear({ ...args, weight }) : new Linear(args);
}
