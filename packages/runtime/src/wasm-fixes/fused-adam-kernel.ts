import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';

import { nativeAddon, nativeLayout } from '../native/native-kernels';
import { FusedAdam } from '../optimizers/fused-adam-kernel-name';
import { missingKernelFix } from './kernel-override';
import type { KernelArgs, WasmBackend } from './wasm-backend-internals';
import { heapOffset, heapView } from './wasm-backend-internals';
import type { WasmFixUnit } from './wasm-fix-unit';
import { WasmFix } from './wasm-fix-names';

/** The attributes of `PeftjsFusedAdam`. */
export interface FusedAdamAttrs {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** AdamW's decoupled weight decay; 0 for Adam. */
  weightDecay: number;
}

let params: Float64Array | undefined;
const f = Math.fround;

/**
 * wasm `PeftjsFusedAdam`: inputs x (the variable), m, v (the moments), g (the gradient) and the
 * scalars accBeta1, accBeta2 (β^t, kept by the optimizer as in tfjs); outputs x', m', v'. One pass
 * instead of tfjs' ~12 elementwise kernels, with tfjs' float32 arithmetic in tfjs' order:
 *   m' = m·β1 + g·(1-β1);  v' = v·β2 + g²·(1-β2);  x' = ((m'/(1-β1ᵗ)) / (√(v'/(1-β2ᵗ)) + ε))·(-lr) + x
 * (AdamW first decays x: x - x·(lr·wd)). Runs in `@peftjs/native` when it is loaded, else as one
 * JavaScript loop over the heap.
 */
export const fusedAdamKernel: KernelFunc = (args) => {
  const { inputs, attrs } = args as KernelArgs;
  const backend = args.backend as WasmBackend;
  const { x, m, v, g, accBeta1, accBeta2 } = inputs as Record<'x' | 'm' | 'v' | 'g' | 'accBeta1' | 'accBeta2', TensorInfo>;
  const { learningRate, beta1, beta2, epsilon, weightDecay } = attrs as unknown as FusedAdamAttrs;
  const size = x.shape.reduce((product, dim) => product * dim, 1);
  for (const [name, tensor] of [
    ['m', m],
    ['v', v],
    ['g', g],
  ] as const) {
    if (tensor.dtype !== 'float32' || tensor.shape.reduce((product, dim) => product * dim, 1) !== size) {
      throw new Error(`PeftjsFusedAdam: ${name} must be float32 with the variable's ${size} values; got ${tensor.dtype} [${tensor.shape.join(', ')}]`);
    }
  }
  if (x.dtype !== 'float32') {
    throw new Error(`PeftjsFusedAdam: the variable must be float32, got ${x.dtype}`);
  }
  const correction1 = f(1 - (backend.typedArrayFromHeap(accBeta1) as Float32Array)[0]);
  const correction2 = f(1 - (backend.typedArrayFromHeap(accBeta2) as Float32Array)[0]);
  const outputs = [backend.makeOutput([...x.shape], 'float32'), backend.makeOutput([...m.shape], 'float32'), backend.makeOutput([...v.shape], 'float32')];
  if (size === 0) {
    return outputs;
  }
  const addon = nativeAddon();
  const layout = nativeLayout();
  if (addon !== undefined && layout !== undefined) {
    const P = layout.AdamParam;
    params ??= new Float64Array(layout.ADAM_PARAMS);
    params[P.size] = size;
    params[P.variable] = heapOffset(backend, x);
    params[P.m] = heapOffset(backend, m);
    params[P.v] = heapOffset(backend, v);
    params[P.gradient] = heapOffset(backend, g);
    params[P.variableOut] = heapOffset(backend, outputs[0]!);
    params[P.mOut] = heapOffset(backend, outputs[1]!);
    params[P.vOut] = heapOffset(backend, outputs[2]!);
    params[P.learningRate] = learningRate;
    params[P.beta1] = beta1;
    params[P.beta2] = beta2;
    params[P.epsilon] = epsilon;
    params[P.biasCorrection1] = correction1;
    params[P.biasCorrection2] = correction2;
    params[P.weightDecay] = weightDecay;
    params[P.oneMinusBeta1] = f(1 - beta1);
    params[P.oneMinusBeta2] = f(1 - beta2);
    addon.adam(heapView(backend), params);
    return outputs;
  }
  // Views after the last allocation (allocating can grow the heap and detach older views).
  const [xs, ms, vs, gs, xOut, mOut, vOut] = [x, m, v, g, ...outputs].map((tensor) => backend.typedArrayFromHeap(tensor) as Float32Array);
  const [b1, b2, omb1, omb2, eps, negLr] = [f(beta1), f(beta2), f(1 - beta1), f(1 - beta2), f(epsilon), f(-learningRate)];
  const decay = f(f(learningRate) * f(weightDecay));
  for (let index = 0; index < size; index++) {
    const value = decay === 0 ? xs[index] : f(xs[index] - f(xs[index] * decay));
    const gradient = gs[index];
    const mNew = f(f(ms[index] * b1) + f(gradient * omb1));
    const vNew = f(f(vs[index] * b2) + f(f(gradient * gradient) * omb2));
    mOut[index] = mNew;
    vOut[index] = vNew;
    xOut[index] = f(f(f(f(mNew / correction1) / f(f(Math.sqrt(f(vNew / correction2))) + eps)) * negLr) + value);
  }
  return outputs;
};

export const fusedAdamKernelFix: WasmFixUnit = missingKernelFix(WasmFix.fusedAdam, FusedAdam, fusedAdamKernel);
