import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs-core';
import { getKernel, registerKernel, Transpose, unregisterKernel } from '@tensorflow/tfjs-core';

import { kernelOverrideFix } from './kernel-override';

import { nativeAddon, nativeLayout, type NativeLayout } from '../native/native-kernels';
import type { KernelArgs, WasmBackend } from './wasm-backend-internals';
import { heapOffset, heapView } from './wasm-backend-internals';
import type { WasmFixUnit } from './wasm-fix-unit';
import { WasmFix } from './wasm-fix-names';

/**
 * The fused kernels @peftjs/models' fused ops run when they are registered (`NativeFusedKernel`
 * there): each is one native pass over the heap in place of a chain of tfjs kernels.
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

/** The addon's `fused` (builds before it lack it). */
interface FusedAddon {
  fused(memory: Uint8Array, params: Float64Array): void;
}

function fusedAddon(): FusedAddon | undefined {
  const addon = nativeAddon() as unknown as Partial<FusedAddon> | undefined;
  return typeof addon?.fused === 'function' ? (addon as FusedAddon) : undefined;
}

let params: Float64Array | undefined;

const sizeOf = (tensor: TensorInfo) => tensor.shape.reduce((product, dim) => product * dim, 1);
const describe = (tensor: TensorInfo) => `${tensor.dtype} [${tensor.shape.join(', ')}]`;

function expectFloat(kernel: string, name: string, tensor: TensorInfo, shape?: readonly number[]): void {
  if (tensor.dtype !== 'float32' || (shape !== undefined && (tensor.shape.length !== shape.length || tensor.shape.some((dim, axis) => dim !== shape[axis])))) {
    throw new Error(`${kernel}: ${name} must be float32${shape ? ` [${shape.join(', ')}]` : ''}, got ${describe(tensor)}`);
  }
}

/** Writes `[op, ...values]` where values are numbers or tensors (their heap offsets), then runs it. */
function run(backend: WasmBackend, kernel: string, op: keyof NativeLayout['FusedOp'], values: ReadonlyArray<number | TensorInfo | null>): void {
  const addon = fusedAddon();
  const layout = nativeLayout();
  if (addon === undefined || layout === undefined) throw new Error(`${kernel}: @peftjs/native with the fused kernels is not loaded`);
  params ??= new Float64Array(layout.FUSED_PARAMS);
  params.fill(0);
  params[0] = layout.FusedOp[op];
  const block = params;
  values.forEach((value, index) => {
    block[index + 1] = value === null ? -1 : typeof value === 'number' ? value : heapOffset(backend, value);
  });
  addon.fused(heapView(backend), params);
}

/** `PeftjsRmsNorm` {x [..., dim], weight [dim]} {epsilon} → y. */
const rmsNorm: KernelFunc = (args) => {
  const { inputs, attrs } = args as KernelArgs;
  const backend = args.backend as WasmBackend;
  const { x, weight } = inputs as Record<'x' | 'weight', TensorInfo>;
  const dim = x.shape[x.shape.length - 1]!;
  expectFloat(NativeFusedKernel.rmsNorm, 'x', x);
  expectFloat(NativeFusedKernel.rmsNorm, 'weight', weight, [dim]);
  const y = backend.makeOutput([...x.shape], 'float32');
  run(backend, NativeFusedKernel.rmsNorm, 'rmsNorm', [sizeOf(x) / dim, dim, x, weight, y, (attrs as { epsilon: number }).epsilon]);
  return y;
};

/** `PeftjsRmsNormGrad` {x, weight, dy} {epsilon} → [dx, dWeight]. */
const rmsNormGrad: KernelFunc = (args) => {
  const { inputs, attrs } = args as KernelArgs;
  const backend = args.backend as WasmBackend;
  const { x, weight, dy } = inputs as Record<'x' | 'weight' | 'dy', TensorInfo>;
  const dim = x.shape[x.shape.length - 1]!;
  expectFloat(NativeFusedKernel.rmsNormGrad, 'x', x);
  expectFloat(NativeFusedKernel.rmsNormGrad, 'weight', weight, [dim]);
  expectFloat(NativeFusedKernel.rmsNormGrad, 'dy', dy, x.shape);
  const dx = backend.makeOutput([...x.shape], 'float32');
  const dWeight = backend.makeOutput([dim], 'float32');
  run(backend, NativeFusedKernel.rmsNormGrad, 'rmsNormGrad', [sizeOf(x) / dim, dim, x, weight, dy, dx, dWeight, (attrs as { epsilon: number }).epsilon]);
  return [dx, dWeight];
};

/** `PeftjsLayerNorm` {x [..., dim], gamma? [dim], beta? [dim]} {epsilon} → (x − mean)·rsqrt(var + eps)·gamma + beta. */
const layerNorm: KernelFunc = (args) => {
  const { inputs, attrs } = args as KernelArgs;
  const backend = args.backend as WasmBackend;
  const { x, gamma, beta } = inputs as Record<'x' | 'gamma' | 'beta', TensorInfo | undefined>;
  const kernel = NativeFusedKernel.layerNorm;
  expectFloat(kernel, 'x', x!);
  const dim = x!.shape[x!.shape.length - 1]!;
  if (gamma) expectFloat(kernel, 'gamma', gamma, [dim]);
  if (beta) expectFloat(kernel, 'beta', beta, [dim]);
  const y = backend.makeOutput([...x!.shape], 'float32');
  run(backend, kernel, 'layerNorm', [sizeOf(x!) / dim, dim, x!, gamma ?? null, beta ?? null, y, (attrs as { epsilon: number }).epsilon]);
  return y;
};

/** `PeftjsLayerNormGrad` {x, gamma?, dy} {epsilon, withBeta} → [dx, dGamma (with gamma), dBeta (withBeta)]. */
const layerNormGrad: KernelFunc = (args) => {
  const { inputs, attrs } = args as KernelArgs;
  const backend = args.backend as WasmBackend;
  const { x, gamma, dy } = inputs as Record<'x' | 'gamma' | 'dy', TensorInfo | undefined>;
  const { epsilon, withBeta } = attrs as unknown as { epsilon: number; withBeta?: boolean };
  const kernel = NativeFusedKernel.layerNormGrad;
  expectFloat(kernel, 'x', x!);
  const dim = x!.shape[x!.shape.length - 1]!;
  if (gamma) expectFloat(kernel, 'gamma', gamma, [dim]);
  expectFloat(kernel, 'dy', dy!, x!.shape);
  const dx = backend.makeOutput([...x!.shape], 'float32');
  const dGamma = gamma ? backend.makeOutput([dim], 'float32') : null;
  const dBeta = withBeta ? backend.makeOutput([dim], 'float32') : null;
  run(backend, kernel, 'layerNormGrad', [sizeOf(x!) / dim, dim, x!, gamma ?? null, dy!, dx, dGamma, dBeta, epsilon]);
  return [dx, ...(dGamma ? [dGamma] : []), ...(dBeta ? [dBeta] : [])];
};

/** `PeftjsSwiglu` {gate, up} → silu(gate)·up. */
const swiglu: KernelFunc = (args) => {
  const backend = args.backend as WasmBackend;
  const { gate, up } = (args as KernelArgs).inputs as Record<'gate' | 'up', TensorInfo>;
  expectFloat(NativeFusedKernel.swiglu, 'gate', gate);
  expectFloat(NativeFusedKernel.swiglu, 'up', up, gate.shape);
  const y = backend.makeOutput([...gate.shape], 'float32');
  run(backend, NativeFusedKernel.swiglu, 'swiglu', [sizeOf(gate), gate, up, y]);
  return y;
};

/** `PeftjsSwigluGrad` {gate, up, dy} → [dGate, dUp]. */
const swigluGrad: KernelFunc = (args) => {
  const backend = args.backend as WasmBackend;
  const { gate, up, dy } = (args as KernelArgs).inputs as Record<'gate' | 'up' | 'dy', TensorInfo>;
  expectFloat(NativeFusedKernel.swigluGrad, 'gate', gate);
  expectFloat(NativeFusedKernel.swigluGrad, 'up', up, gate.shape);
  expectFloat(NativeFusedKernel.swigluGrad, 'dy', dy, gate.shape);
  const dGate = backend.makeOutput([...gate.shape], 'float32');
  const dUp = backend.makeOutput([...gate.shape], 'float32');
  run(backend, NativeFusedKernel.swigluGrad, 'swigluGrad', [sizeOf(gate), gate, up, dy, dGate, dUp]);
  return [dGate, dUp];
};

/** `PeftjsGeluTanh` {x} → gelu_new(x). */
const geluTanh: KernelFunc = (args) => {
  const backend = args.backend as WasmBackend;
  const { x } = (args as KernelArgs).inputs as Record<'x', TensorInfo>;
  expectFloat(NativeFusedKernel.geluTanh, 'x', x);
  const y = backend.makeOutput([...x.shape], 'float32');
  run(backend, NativeFusedKernel.geluTanh, 'geluTanh', [sizeOf(x), x, y]);
  return y;
};

/** `PeftjsGeluTanhGrad` {x, dy} → dx. */
const geluTanhGrad: KernelFunc = (args) => {
  const backend = args.backend as WasmBackend;
  const { x, dy } = (args as KernelArgs).inputs as Record<'x' | 'dy', TensorInfo>;
  expectFloat(NativeFusedKernel.geluTanhGrad, 'x', x);
  expectFloat(NativeFusedKernel.geluTanhGrad, 'dy', dy, x.shape);
  const dx = backend.makeOutput([...x.shape], 'float32');
  run(backend, NativeFusedKernel.geluTanhGrad, 'geluTanhGrad', [sizeOf(x), x, dy, dx]);
  return dx;
};

/** `PeftjsRotary` {x [batch, heads, seq, dim], cos, sin [1 or batch, 1, seq, dim]} {transposed} → x·cos + rotate_half(x)·sin, or its input gradient. */
const rotary: KernelFunc = (args) => {
  const { inputs, attrs } = args as KernelArgs;
  const backend = args.backend as WasmBackend;
  const { x, cos, sin } = inputs as Record<'x' | 'cos' | 'sin', TensorInfo>;
  const kernel = NativeFusedKernel.rotary;
  expectFloat(kernel, 'x', x);
  const [batch, heads, seq, dim] = x.shape as [number, number, number, number];
  if (x.shape.length !== 4 || dim % 2 !== 0) throw new Error(`${kernel}: x must be [batch, heads, seq, even dim], got ${describe(x)}`);
  const cosBatch = cos.shape[0]!;
  if (cosBatch !== 1 && cosBatch !== batch) throw new Error(`${kernel}: cos must be [1 or ${batch}, 1, ${seq}, ${dim}], got ${describe(cos)}`);
  expectFloat(kernel, 'cos', cos, [cosBatch, 1, seq, dim]);
  expectFloat(kernel, 'sin', sin, [cosBatch, 1, seq, dim]);
  const y = backend.makeOutput([...x.shape], 'float32');
  run(backend, kernel, 'rotary', [batch, heads, seq, dim, cosBatch, x, cos, sin, y, (attrs as { transposed?: boolean }).transposed ? 1 : 0]);
  return y;
};

/**
 * `PeftjsAttentionSoftmax` {scores [batch, …, keys] (numHeads·seq rows per batch entry), bias [1 or batch, 1, seq, keys]}
 * {numHeads, divisors} → softmax(scores / d₁ / … + bias) over keys, in scores' shape.
 */
const attentionSoftmax: KernelFunc = (args) => {
  const { inputs, attrs } = args as KernelArgs;
  const backend = args.backend as WasmBackend;
  const { scores, bias } = inputs as Record<'scores' | 'bias', TensorInfo>;
  const { numHeads, divisors } = attrs as unknown as { numHeads: number; divisors: number[] };
  const kernel = NativeFusedKernel.attentionSoftmax;
  expectFloat(kernel, 'scores', scores);
  const batch = scores.shape[0]!;
  const keys = scores.shape[scores.shape.length - 1]!;
  const seq = sizeOf(scores) / (batch * numHeads * keys);
  const biasBatch = bias.shape[0]!;
  if (!Number.isInteger(seq) || divisors.length > 4 || (biasBatch !== 1 && biasBatch !== batch)) {
    throw new Error(`${kernel}: scores ${describe(scores)} with ${numHeads} heads, bias ${describe(bias)} and ${divisors.length} divisors (at most 4) do not fit`);
  }
  expectFloat(kernel, 'bias', bias, [biasBatch, 1, seq, keys]);
  const p = backend.makeOutput([...scores.shape], 'float32');
  run(backend, kernel, 'softmax', [batch, numHeads, seq, keys, scores, bias, biasBatch, p, divisors.length, ...divisors]);
  return p;
};

/** `PeftjsSoftmaxGrad` {probabilities, dProbabilities} {scale} → P ⊙ (dP − rowsum(dP ⊙ P)) · scale. */
const softmaxGrad: KernelFunc = (args) => {
  const { inputs, attrs } = args as KernelArgs;
  const backend = args.backend as WasmBackend;
  const { probabilities, dProbabilities } = inputs as Record<'probabilities' | 'dProbabilities', TensorInfo>;
  expectFloat(NativeFusedKernel.softmaxGrad, 'probabilities', probabilities);
  expectFloat(NativeFusedKernel.softmaxGrad, 'dProbabilities', dProbabilities, probabilities.shape);
  const keys = probabilities.shape[probabilities.shape.length - 1]!;
  const ds = backend.makeOutput([...probabilities.shape], 'float32');
  run(backend, NativeFusedKernel.softmaxGrad, 'softmaxGrad', [sizeOf(probabilities) / keys, keys, probabilities, dProbabilities, ds, (attrs as { scale: number }).scale]);
  return ds;
};

/**
 * `PeftjsCrossEntropy` {logits [rows, vocab], labels int32 [rows] (in range), weights [rows]} {withGradient}
 * → [loss [rows]] or [loss, grad [rows, vocab]]: loss = logsumexp − the label's logit, grad = (softmax − onehot)·weight.
 */
const crossEntropy: KernelFunc = (args) => {
  const { inputs, attrs } = args as KernelArgs;
  const backend = args.backend as WasmBackend;
  const { logits, labels, weights } = inputs as Record<'logits' | 'labels' | 'weights', TensorInfo>;
  const kernel = NativeFusedKernel.crossEntropy;
  expectFloat(kernel, 'logits', logits);
  if (logits.shape.length !== 2) throw new Error(`${kernel}: logits must be [rows, vocab], got ${describe(logits)}`);
  const [rows, vocab] = logits.shape as [number, number];
  if (labels.dtype !== 'int32' || labels.shape.length !== 1 || labels.shape[0] !== rows) throw new Error(`${kernel}: labels must be int32 [${rows}], got ${describe(labels)}`);
  expectFloat(kernel, 'weights', weights, [rows]);
  const loss = backend.makeOutput([rows], 'float32');
  const grad = (attrs as { withGradient?: boolean }).withGradient ? backend.makeOutput([rows, vocab], 'float32') : null;
  run(backend, kernel, 'crossEntropy', [rows, vocab, logits, labels, weights, loss, grad]);
  return grad === null ? [loss] : [loss, grad];
};

const kernels: ReadonlyArray<readonly [string, KernelFunc]> = [
  [NativeFusedKernel.rmsNorm, rmsNorm],
  [NativeFusedKernel.rmsNormGrad, rmsNormGrad],
  [NativeFusedKernel.swiglu, swiglu],
  [NativeFusedKernel.swigluGrad, swigluGrad],
  [NativeFusedKernel.geluTanh, geluTanh],
  [NativeFusedKernel.geluTanhGrad, geluTanhGrad],
  [NativeFusedKernel.rotary, rotary],
  [NativeFusedKernel.attentionSoftmax, attentionSoftmax],
  [NativeFusedKernel.softmaxGrad, softmaxGrad],
  [NativeFusedKernel.crossEntropy, crossEntropy],
  [NativeFusedKernel.layerNorm, layerNorm],
  [NativeFusedKernel.layerNormGrad, layerNormGrad],
];

/** Registers the fused kernels on wasm when the addon with `fused` is loaded (else nothing). */
export const nativeFusedKernelsFix: WasmFixUnit = {
  name: WasmFix.nativeFused,
  apply() {
    if (fusedAddon() === undefined) return null;
    const added = kernels.filter(([kernelName]) => getKernel(kernelName, 'wasm') == null);
    for (const [kernelName, kernelFunc] of added) registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
    if (added.length === 0) return null;
    return () => {
      for (const [kernelName, kernelFunc] of added) {
        if (getKernel(kernelName, 'wasm')?.kernelFunc === kernelFunc) unregisterKernel(kernelName, 'wasm');
      }
    };
  },
  isActive: () => kernels.every(([kernelName, kernelFunc]) => getKernel(kernelName, 'wasm')?.kernelFunc === kernelFunc),
};

/**
 * wasm `Transpose` for float32 permutations that keep the last axis last (attention's
 * `[batch, seq, heads, dim]` ↔ `[batch, heads, seq, dim]`, forward and backward): whole rows are
 * copied natively, several times faster than the stock element-by-element kernel. Other
 * permutations and dtypes go to the kernel below.
 */
export const nativeTransposeKernelFix = kernelOverrideFix(WasmFix.nativeTranspose, Transpose, (below) => {
  if (fusedAddon() === undefined) return undefined;
  return (args) => {
    const { inputs, attrs } = args as KernelArgs;
    const backend = args.backend as WasmBackend;
    const { x } = inputs as { x: TensorInfo };
    const { perm } = attrs as unknown as { perm: number[] };
    const rank = x.shape.length;
    if (x.dtype !== 'float32' || rank < 2 || rank > 6 || perm[rank - 1] !== rank - 1 || fusedAddon() === undefined) return below.kernelFunc(args);
    const y = backend.makeOutput(
      perm.map((axis) => x.shape[axis]!),
      'float32',
    );
    const values: Array<number | TensorInfo> = [rank];
    for (let axis = 0; axis < 6; axis++) values.push(axis < rank ? x.shape[axis]! : 0);
    for (let axis = 0; axis < 6; axis++) values.push(axis < rank ? perm[axis]! : 0);
    values.push(x, y);
    run(backend, Transpose, 'transpose', values);
    return y;
  };
});
