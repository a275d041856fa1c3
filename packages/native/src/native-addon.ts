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

  // ---- the frozen-weight store (see `FrozenWeightStore` for the typed wrapper) ----
  /** Maps a whole file read-only and shared; returns a mapping id. */
  storeMapFile(path: string): number;
  /** Drops a mapping handle (entries made from it keep the file mapped until they are freed). */
  storeUnmapFile(mapping: number): void;
  /** Creates an entry; `params` is laid out as `StoreCreateParam` says. Returns the entry id. */
  storeCreate(params: Float64Array, source?: NativeMemory): number;
  storeFree(entry: number): void;
  storeInfo(entry: number): NativeStoreEntryInfo;
  storeStats(): NativeStoreStats;
  /** Rows `[row0, row0 + rows)` dequantised to float32 into `out`. */
  storeRead(entry: number, out: Float32Array, row0: number, rows: number): void;
  /** Replaces the entry's values (rows × cols float32), requantised in its own storage. */
  storeWrite(entry: number, values: Float32Array): void;
  /** `out = x·Wᵀ (+ bias)` or `x·W` in place on `memory`; `params` as `StoreMatMulParam` says. */
  storeMatMul(memory: NativeMemory, params: Float64Array): void;
  /** `out[i] = W[ids[i]]` in place on `memory`; `params` as `StoreGatherParam` says. */
  storeGather(memory: NativeMemory, params: Float64Array): void;
  /** One fused non-GEMM kernel in place on `memory`; `params` (16) holds a `FusedOp` first, then as `FusedParam` says. */
  fused(memory: NativeMemory, params: Float64Array): void;
  /** GFLOP/s of one core's widest FMA on independent registers (the GEMM's ceiling), best over `milliseconds`. 0 without AVX2. */
  measurePeak(milliseconds?: number): number;
}

/** What `storeInfo` reports. */
export interface NativeStoreEntryInfo {
  readonly rows: number;
  readonly cols: number;
  /** `StoreStorage` code. */
  readonly storage: number;
  /** 1 when a 4-bit entry's absmax is double-quantised. */
  readonly nested: number;
  /** Native memory held (values and statistics; 0 for values mapped from a file). */
  readonly bytes: number;
  /** The values are read in place from a mapped file. */
  readonly mapped: boolean;
}

/** What `storeStats` reports. */
export interface NativeStoreStats {
  readonly entries: number;
  /** Native memory held by all entries. */
  readonly bytes: number;
  /** Bytes of files mapped (shared with the page cache; resident only as touched). */
  readonly mappedBytes: number;
}

/** Storage codes of the store (`storeCreate`'s `storage`). */
export const StoreStorage = { float32: 0, bfloat16: 1, float16: 2, int8: 3, nf4: 4, fp4: 5 } as const;
/** Source element types (safetensors' F32, BF16, F16). */
export const StoreSource = { F32: 0, BF16: 1, F16: 2 } as const;

/** Indices into the `storeCreate` parameter block. */
export const StoreCreateParam = {
  /** 0: `source` memory, 1: a mapped file. */
  sourceKind: 0,
  mapping: 1,
  byteOffset: 2,
  /** `StoreSource`. */
  sourceType: 3,
  rows: 4,
  cols: 5,
  /** 1: the source is laid out [cols, rows] (GPT-2 Conv1D) and is transposed on the way in. */
  transpose: 6,
  /** `StoreStorage`. */
  storage: 7,
  /** 1: double-quantise a 4-bit entry's absmax. */
  doubleQuant: 8,
} as const;
export const STORE_CREATE_PARAMS = 9;

/** Indices into the `storeMatMul` parameter block. */
export const StoreMatMulParam = {
  entry: 0,
  /** Rows of x. */
  m: 1,
  /** Byte offsets of x and out. */
  x: 2,
  out: 3,
  /** 1: out = x·Wᵀ (a Linear's forward), 0: out = x·W (its input gradient). */
  transposeWeight: 4,
  /** Byte offset of the bias (one per output column), -1 for none. */
  bias: 5,
} as const;
export const STORE_MAT_MUL_PARAMS = 6;

/** Indices into the `storeGather` parameter block. */
export const StoreGatherParam = { entry: 0, count: 1, ids: 2, out: 3 } as const;
export const STORE_GATHER_PARAMS = 4;

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

/** Operations of `fused` (its `params[0]`). */
export const FusedOp = {
  rmsNorm: 1,
  rmsNormGrad: 2,
  swiglu: 3,
  swigluGrad: 4,
  rotary: 5,
  softmax: 6,
  softmaxGrad: 7,
  crossEntropy: 8,
  geluTanh: 9,
  geluTanhGrad: 10,
  layerNorm: 11,
  layerNormGrad: 12,
  transpose: 13,
} as const;
export type FusedOpName = keyof typeof FusedOp;
export const FUSED_PARAMS = 16;

/**
 * The `fused` parameter blocks, by operation: each lists, from index 1, its sizes (elements),
 * byte offsets of float32 operands (int32 for labels) and scalars. Outputs must not overlap inputs.
 */
export const FusedParam = {
  /** y = x · rsqrt(mean(x²) + eps) · w over rows of `dim`. */
  rmsNorm: { rows: 1, dim: 2, x: 3, weight: 4, y: 5, epsilon: 6 },
  /** dx and dw (summed over rows). */
  rmsNormGrad: { rows: 1, dim: 2, x: 3, weight: 4, dy: 5, dx: 6, dWeight: 7, epsilon: 8 },
  /** y = silu(gate) · up. */
  swiglu: { size: 1, gate: 2, up: 3, y: 4 },
  swigluGrad: { size: 1, gate: 2, up: 3, dy: 4, dGate: 5, dUp: 6 },
  /** y = x·cos + rotate_half(x)·sin (transposed: the input gradient); x [batch, heads, seq, dim], cos / sin [cosBatch (1 or batch), 1, seq, dim]. */
  rotary: { batch: 1, heads: 2, seq: 3, dim: 4, cosBatch: 5, x: 6, cos: 7, sin: 8, y: 9, transposed: 10 },
  /** p = softmax(scores / d₁ / … + bias) over keys; scores [batch, heads, seq, keys], bias [biasBatch (1 or batch), 1, seq, keys] or -1; up to 4 divisors from index 10. */
  softmax: { batch: 1, heads: 2, seq: 3, keys: 4, scores: 5, bias: 6, biasBatch: 7, p: 8, divisorCount: 9, divisors: 10 },
  /** dS = P ⊙ (dP − rowsum(dP ⊙ P)) · scale. */
  softmaxGrad: { rows: 1, keys: 2, p: 3, dp: 4, ds: 5, scale: 6 },
  /** loss[r] = logsumexp(logits[r]) − logits[r][label[r]]; grad (or -1) = (softmax − onehot) · weight[r]. */
  crossEntropy: { rows: 1, vocab: 2, logits: 3, labels: 4, weights: 5, loss: 6, grad: 7 },
  /** y = 0.5 x (1 + tanh(√(2/π)(x + 0.044715 x³))). */
  geluTanh: { size: 1, x: 2, y: 3 },
  geluTanhGrad: { size: 1, x: 2, dy: 3, dx: 4 },
  /** y = (x − mean) · rsqrt(var + eps) · gamma + beta over rows of `dim`; gamma, beta -1 for none. */
  layerNorm: { rows: 1, dim: 2, x: 3, gamma: 4, beta: 5, y: 6, epsilon: 7 },
  /** dx, and dGamma / dBeta (-1 for none) summed over rows. */
  layerNormGrad: { rows: 1, dim: 2, x: 3, gamma: 4, dy: 5, dx: 6, dGamma: 7, dBeta: 8, epsilon: 9 },
  /** y = transpose(x, perm) for rank ≤ 6 with the last axis kept last (rows are copied whole); shape from index 2, perm from 8. */
  transpose: { rank: 1, shape: 2, perm: 8, x: 14, y: 15 },
} as const;
