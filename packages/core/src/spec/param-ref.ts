import type * as tf from '@tensorflow/tfjs-core';
import type { LayerVariable } from '@tensorflow/tfjs-layers';

/**
 * One parameter as PyTorch names and lays it out: a tfjs variable plus the conversion between
 * the tfjs layout (Dense kernel `[in, out]`, NHWC filters) and torch's (`[out, in]`, OIHW).
 */
export interface ParamRef {
  readonly variable: LayerVariable;
  /** The torch shape of this parameter. */
  readonly torchShape: readonly number[];
  /** tfjs value → torch layout (a new tensor; the caller disposes it). */
  toTorch(value: tf.Tensor): tf.Tensor;
  /** torch layout → tfjs value (a new tensor; the caller disposes it). */
  fromTorch(value: tf.Tensor): tf.Tensor;
}
