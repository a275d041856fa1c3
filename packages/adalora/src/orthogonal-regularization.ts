import * as tf from '@tensorflow/tfjs-core';
import type { PeftModel } from '@peftjs/core';
import { adaloraLayers, trainableAdaloraAdapter } from './update-and-allocate';

/**
 * AdaLoRA's orthogonality regulariser (what PEFT's AdaLoraModel.forward adds to a loss): the mean
 * over every lora_A and lora_B of the adapter of ‖P·Pᵀ − I‖_F (A `[r, in]`: A·Aᵀ; B `[out, r]`:
 * Bᵀ·B), not yet weighted by `orth_reg_weight`. Differentiable: call it inside the gradient tape.
 */
export function orthogonalRegularization(peftModel: PeftModel, adapterName: string = trainableAdaloraAdapter(peftModel).adapterName): tf.Scalar {
  return tf.tidy(() => {
    const terms: tf.Scalar[] = [];
    for (const { layer } of adaloraLayers(peftModel, adapterName)) {
      const { a, b } = layer.triplets(adapterName);
      const valueA = a.read() as tf.Tensor2D;
      const valueB = b.read() as tf.Tensor2D;
      const rank = valueA.shape[0];
      const identity = tf.eye(rank);
      terms.push(tf.norm(tf.sub(tf.matMul(valueA, valueA, false, true), identity)) as tf.Scalar);
      terms.push(tf.norm(tf.sub(tf.matMul(valueB, valueB, true, false), identity)) as tf.Scalar);
    }
    if (terms.length === 0) return tf.scalar(0);
    return tf.div(tf.addN(terms), terms.length) as tf.Scalar;
  });
}
