import type * as tf from '@tensorflow/tfjs-core';
import type { layers } from '@tensorflow/tfjs-layers';

/** The property a frozen linear layer class sets to `true` (`Symbol.for`, so copies of core agree). */
export const FROZEN_LINEAR_LAYER = Symbol.for('peftjs.frozenLinearLayer');

/**
 * A linear layer whose weight lives outside tfjs (a frozen-weight store). Its own forward is the
 * only way to apply it without materialising the weight, so a method that adds to a linear
 * layer's output calls `frozenForward` instead of multiplying by the kernel it reads.
 */
export interface FrozenLinearLayer extends layers.Layer {
  readonly [FROZEN_LINEAR_LAYER]: true;
  /** x·W + b over the last axis; the weight gets no gradient. */
  frozenForward(inputs: tf.Tensor): tf.Tensor;
}

export function isFrozenLinearLayer(layer: layers.Layer): layer is FrozenLinearLayer {
  return (layer as unknown as Record<symbol, unknown>)[FROZEN_LINEAR_LAYER] === true && typeof (layer as Partial<FrozenLinearLayer>).frozenForward === 'function';
}
