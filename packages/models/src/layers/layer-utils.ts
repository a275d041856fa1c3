import type * as tf from '@tensorflow/tfjs-core';

/** A shape as tfjs-layers writes it: `null` for a dimension known only at run time. */
export type Shape = Array<number | null>;
export type Kwargs = Record<string, unknown>;

/** torch.finfo(torch.float32).min: what transformers adds to masked attention scores. */
export const FLOAT32_MIN = -3.4028234663852886e38;

export function tensorList(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
  return Array.isArray(inputs) ? inputs : [inputs];
}

export function shapeList(inputShape: Shape | Shape[]): Shape[] {
  return Array.isArray(inputShape[0]) || inputShape.length === 0 ? (inputShape as Shape[]) : [inputShape as Shape];
}

export function single(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  return Array.isArray(inputs) ? inputs[0]! : inputs;
}

export function singleShape(inputShape: Shape | Shape[]): Shape {
  return Array.isArray(inputShape[0]) ? (inputShape[0] as Shape) : (inputShape as Shape);
}
