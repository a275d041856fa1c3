/** The instruction sets the addon has a GEMM for, slowest first. */
export const NATIVE_ISAS = ['portable', 'avx2', 'avx512'] as const;
export type NativeIsa = (typeof NATIVE_ISAS)[number];

/** The memory the kernels work on: an ArrayBuffer, or a `Uint8Array` over one (the wasm heap, `HEAPU8`). */
export type NativeMemory = ArrayBuffer | Uint8Array;

/** What `info()` reports. */
export interface NativeInfo {
  /** The GEMM in use. */
  readonly isa: NativeIsa;
  /** The best one this CPU supports (the default). */
  readonly bestIsa: NativeIsa;
  /** Threads a large product is split over (1: the calling thread only). */
  readonly threads: number;
}

/**
 * The addon's functions. Offsets are in bytes into `memory`, sizes in elements; every range is
 * checked against the memory (a `RangeError` otherwise) before anything is read or written.
 */
export interface NativeAddon {
  /** C = act(op(A)·op(B) + bias), float32, row-major; `params` is laid out as `SgemmParam` says. */
  sgemm(memory: NativeMemory, params: Float64Array): void;
  /** One fused Adam / AdamW step over a variable; `params` is laid out as `AdamParam` says. */
  adam(memory: NativeMemory, params: Float64Array): void;
  info(): NativeInfo;
  /** Forces a GEMM (tests, benchmarks); `null` goes back to the best. False when the CPU lacks it. */
  setIsa(isa: NativeIsa | null): boolean;
  /** Sets the threads for large products (1 = none besides the caller); returns the number now used. */
  setThreads(threads: number): number;
}

/** Indices into the `sgemm` parameter block (`new Float64Array(SGEMM_PARAMS)`). */
export const SgemmParam = {
  /** Output matrices. */
  batch: 0,
  m: 1,
  n: 2,
  k: 3,
  /** Byte offsets of A, B, C. C holds `batch` contiguous m×n matrices. */
  a: 4,
  b: 5,
  c: 6,
  /** Elements between consecutive matrices of A and of B. */
  aStride: 7,
  bStride: 8,
  /** 1: A is stored k×m (op(A) = Aᵀ); 1: B is stored n×k. */
  transposeA: 9,
  transposeB: 10,
  /** Byte offset of the bias (one value per column, or one for all), -1 for none. */
  bias: 11,
  /** Elements between the biases of consecutive output matrices (0: one bias for all). */
  biasStride: 12,
  /** 1: the bias is one value. */
  biasScalar: 13,
  /** `NativeActivation`. */
  activation: 14,
  /** leakyrelu's slope. */
  leakyreluAlpha: 15,
  /** Byte offset of prelu's slopes (one per column, or one), -1 for none. */
  prelu: 16,
  preluScalar: 17,
  /** Matrices stored in A and in B (0: `batch`): output i uses A's matrix i % aMatrices (batch broadcasting). */
  aMatrices: 18,
  bMatrices: 19,
} as const;
export const SGEMM_PARAMS = 20;

/** Activations the GEMM epilogue applies after the bias. */
export const NativeActivation = {
  linear: 0,
  relu: 1,
  relu6: 2,
  leakyrelu: 3,
  sigmoid: 4,
  elu: 5,
  prelu: 6,
} as const;
export type NativeActivationName = keyof typeof NativeActivation;

/** Indices into the `adam` parameter block (`new Float64Array(ADAM_PARAMS)`). */
export const AdamParam = {
  size: 0,
  /** Byte offsets of the variable, first and second moments, gradient, and the three outputs (may equal the inputs). */
  variable: 1,
  m: 2,
  v: 3,
  gradient: 4,
  variableOut: 5,
  mOut: 6,
  vOut: 7,
  learningRate: 8,
  beta1: 9,
  beta2: 10,
  epsilon: 11,
  /** 1 - beta1^t and 1 - beta2^t. */
  biasCorrection1: 12,
  biasCorrection2: 13,
  /** AdamW's decoupled weight decay (0: Adam). */
  weightDecay: 14,
  /** 1 - beta1 and 1 - beta2, as float32 (what tfjs multiplies by). */
  oneMinusBeta1: 15,
  oneMinusBeta2: 16,
} as const;
export const ADAM_PARAMS = 17;
