import * as tf from '@tensorflow/tfjs-core';

/**
 * Kernels `@peftjs/runtime` registers on the wasm backend when `@peftjs/native` is loaded
 * (`NativeFusedKernel` there): each fused op below runs one of them, forward and backward, instead
 * of its chain of tfjs kernels, and falls back to the tfjs composition where they are absent
 * (other backends, the browser, no addon) or the shapes are outside what they take.
 */
export const NativeFusedKernel = {
  rmsNorm: 'PeftjsRmsNorm',
  rmsNormGrad: 'PeftjsRmsNormGrad',
  swiglu: 'PeftjsSwiglu',
  swigluGrad: 'PeftjsSwigluGrad',
  geluTanh: 'PeftjsGeluTanh',
  geluTanhGrad: 'PeftjsGeluTanhGrad',
  rotary: 'PeftjsRotary',
  attentionSoftmax: 'PeftjsAttentionSoftmax',
  softmaxGrad: 'PeftjsSoftmaxGrad',
  crossEntropy: 'PeftjsCrossEntropy',
  layerNorm: 'PeftjsLayerNorm',
  layerNormGrad: 'PeftjsLayerNormGrad',
} as const;
export type NativeFusedKernelName = (typeof NativeFusedKernel)[keyof typeof NativeFusedKernel];

/** Whether the active backend has the kernel (and every input is float32, as the kernels take). */
export function hasFusedKernel(kernelName: NativeFusedKernelName, ...inputs: tf.Tensor[]): boolean {
  return tf.getKernel(kernelName, tf.getBackend()) !== undefined && inputs.every((input) => input.dtype === 'float32');
}

/** Runs a fused kernel; multi-output kernels return a list. */
export function runFusedKernel(kernelName: NativeFusedKernelName, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown> = {}): tf.Tensor | tf.Tensor[] {
  return tf.engine().runKernel(kernelName, inputs as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[];
}
