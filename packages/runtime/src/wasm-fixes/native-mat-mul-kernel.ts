import type { NativeAddon } from '@peftjs/native';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { _FusedMatMul, BatchMatMul, broadcast_util, util } from '@tensorflow/tfjs-core';

import { nativeAddon, nativeLayout, type NativeLayout } from '../native/native-kernels';
import { kernelOverrideFix } from './kernel-override';
import type { KernelArgs, WasmBackend } from './wasm-backend-internals';
import { heapOffset, heapView } from './wasm-backend-internals';
import type { WasmFixUnit } from './wasm-fix-unit';
import { WasmFix } from './wasm-fix-names';

const activations: Record<string, number> = { linear: 0, relu: 1, relu6: 2, leakyrelu: 3, sigmoid: 4, elu: 5, prelu: 6 };

/** How op(a)·op(b) maps onto the addon's batched GEMM, or undefined when it does not. */
interface Plan {
  outShape: number[];
  batch: number;
  m: number;
  n: number;
  k: number;
  aMatrices: number;
  bMatrices: number;
}

/**
 * Plans a product the way tfjs' kernels compute it: batch dims broadcast, output matrix i uses
 * a's matrix i % batchA and b's i % batchB. Undefined (fall back) when the inner sizes differ or the
 * batch shapes broadcast to more matrices than either has (the stock kernel reports those).
 */
export function planProduct(aShape: number[], bShape: number[], transposeA: boolean, transposeB: boolean): Plan | undefined {
  if (aShape.length < 2 || bShape.length < 2) {
    return undefined;
  }
  const [a0, a1] = aShape.slice(-2);
  const [b0, b1] = bShape.slice(-2);
  const m = transposeA ? a1 : a0;
  const k = transposeA ? a0 : a1;
  const kB = transposeB ? b1 : b0;
  const n = transposeB ? b0 : b1;
  if (k !== kB) {
    return undefined;
  }
  let batchShape: number[];
  try {
    batchShape = broadcast_util.assertAndGetBroadcastShape(aShape.slice(0, -2), bShape.slice(0, -2));
  } catch {
    return undefined;
  }
  const aMatrices = util.sizeFromShape(aShape.slice(0, -2));
  const bMatrices = util.sizeFromShape(bShape.slice(0, -2));
  const batch = util.sizeFromShape(batchShape);
  if (batch !== Math.max(aMatrices, bMatrices)) {
    return undefined;
  }
  return { outShape: [...batchShape, m, n], batch, m, n, k, aMatrices, bMatrices };
}

/** One value, or one per output column: what the GEMM epilogue takes. */
function perColumn(shape: number[], n: number): 'scalar' | 'column' | undefined {
  const size = util.sizeFromShape(shape);
  if (size === 1) {
    return 'scalar';
  }
  return size === n && shape[shape.length - 1] === n ? 'column' : undefined;
}

/**
 * Runs `plan` on the addon, in place on the wasm heap: the addon reads a and b where the backend
 * keeps them and writes straight into the output tensor (no copies).
 */
function runProduct(
  addon: NativeAddon,
  P: NativeLayout['SgemmParam'],
  params: Float64Array,
  backend: WasmBackend,
  plan: Plan,
  a: TensorInfo,
  b: TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
  epilogue?: { bias?: TensorInfo; biasScalar: boolean; activation: number; alpha: number; prelu?: TensorInfo; preluScalar: boolean },
): TensorInfo {
  const out = backend.makeOutput(plan.outShape, 'float32');
  if (plan.batch * plan.m * plan.n === 0) {
    return out;
  }
  params[P.batch] = plan.batch;
  params[P.m] = plan.m;
  params[P.n] = plan.n;
  params[P.k] = plan.k;
  params[P.a] = heapOffset(backend, a);
  params[P.b] = heapOffset(backend, b);
  params[P.c] = heapOffset(backend, out);
  params[P.aStride] = plan.m * plan.k;
  params[P.bStride] = plan.k * plan.n;
  params[P.transposeA] = transposeA ? 1 : 0;
  params[P.transposeB] = transposeB ? 1 : 0;
  params[P.bias] = epilogue?.bias === undefined ? -1 : heapOffset(backend, epilogue.bias);
  params[P.biasStride] = 0;
  params[P.biasScalar] = epilogue?.biasScalar ? 1 : 0;
  params[P.activation] = epilogue?.activation ?? 0;
  params[P.leakyreluAlpha] = epilogue?.alpha ?? 0;
  params[P.prelu] = epilogue?.prelu === undefined ? -1 : heapOffset(backend, epilogue.prelu);
  params[P.preluScalar] = epilogue?.preluScalar ? 1 : 0;
  params[P.aMatrices] = plan.aMatrices;
  params[P.bMatrices] = plan.bMatrices;
  // The heap view is taken after the output is allocated (allocating can grow the heap).
  addon.sgemm(heapView(backend), params);
  return out;
}

/**
 * wasm `BatchMatMul` on the native SGEMM: transpose flags cost nothing (the GEMM packs either
 * layout), batches and broadcast batches run in one call, and the data never leaves the heap.
 * Anything else (other dtypes, shapes tfjs rejects) goes to the kernel below.
 */
export function createNativeBatchMatMulKernel(addon: NativeAddon, layout: NativeLayout, below: KernelConfig): KernelFunc {
  const params = new Float64Array(layout.SGEMM_PARAMS);
  return (args) => {
    const { inputs, attrs } = args as KernelArgs;
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
    const plan = a.dtype === 'float32' && b.dtype === 'float32' ? planProduct(a.shape, b.shape, transposeA, transposeB) : undefined;
    if (plan === undefined) {
      return below.kernelFunc(args);
    }
    return runProduct(addon, layout.SgemmParam, params, args.backend as WasmBackend, plan, a, b, transposeA, transposeB);
  };
}

/**
 * wasm `_FusedMatMul` (what tfjs-layers' `Dense` runs) on the native SGEMM, with the bias and the
 * activation applied to each output tile while it is in cache. Takes a bias and prelu slopes of one
 * value or one per output column (what `Dense` passes); anything else goes to the kernel below.
 */
export function createNativeFusedMatMulKernel(addon: NativeAddon, layout: NativeLayout, below: KernelConfig): KernelFunc {
  const params = new Float64Array(layout.SGEMM_PARAMS);
  return (args) => {
    const { inputs, attrs } = args as KernelArgs;
    const { a, b, bias, preluActivationWeights } = inputs as { a: TensorInfo; b: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
    const { transposeA, transposeB, activation, leakyreluAlpha } = attrs as unknown as {
      transposeA: boolean;
      transposeB: boolean;
      activation?: string;
      leakyreluAlpha?: number;
    };
    const activationCode = activations[activation ?? 'linear'];
    const plan = a.dtype === 'float32' && b.dtype === 'float32' ? planProduct(a.shape, b.shape, transposeA, transposeB) : undefined;
    const biasKind = bias === undefined ? undefined : bias.dtype === 'float32' ? perColumn(bias.shape, plan?.n ?? -1) : undefined;
    const preluKind =
      activation !== 'prelu' || preluActivationWeights === undefined
        ? undefined
        : preluActivationWeights.dtype === 'float32'
          ? perColumn(preluActivationWeights.shape, plan?.n ?? -1)
          : undefined;
    if (
      plan === undefined ||
      activationCode === undefined ||
      (bias !== undefined && biasKind === undefined) ||
      (activation === 'prelu' && preluKind === undefined) ||
      (bias !== undefined && bias.shape.length > plan.outShape.length) ||
      (preluKind !== undefined && preluActivationWeights!.shape.length > plan.outShape.length)
    ) {
      return below.kernelFunc(args);
    }
    return runProduct(addon, layout.SgemmParam, params, args.backend as WasmBackend, plan, a, b, transposeA, transposeB, {
      bias,
      biasScalar: biasKind === 'scalar',
      activation: activationCode,
      alpha: leakyreluAlpha ?? 0.2,
      prelu: preluKind === undefined ? undefined : preluActivationWeights,
      preluScalar: preluKind === 'scalar',
    });
  };
}

let nativeBatchMatMul: KernelFunc | undefined;

/** Whether `kernelFunc` is the native `BatchMatMul` (the gradient fix then keeps transpose flags). */
export function isNativeBatchMatMul(kernelFunc: KernelFunc | undefined): boolean {
  return kernelFunc !== undefined && kernelFunc === nativeBatchMatMul;
}

export const nativeMatMulKernelFix: WasmFixUnit = kernelOverrideFix(WasmFix.nativeMatMul, BatchMatMul, (below) => {
  const addon = nativeAddon();
  const layout = nativeLayout();
  nativeBatchMatMul = addon === undefined || layout === undefined ? undefined : createNativeBatchMatMulKernel(addon, layout, below);
  return nativeBatchMatMul;
});

export const nativeFusedMatMulKernelFix: WasmFixUnit = kernelOverrideFix(WasmFix.nativeFusedMatMul, _FusedMatMul, (below) => {
  const addon = nativeAddon();
  const layout = nativeLayout();
  return addon === undefined || layout === undefined ? undefined : createNativeFusedMatMulKernel(addon, layout, below);
});
