/** The fixes runtime registers on the wasm backend, by name. Names are stable: they appear in reports. */
export const WasmFix = {
  /** `BatchMatMul` gradient with explicit transposes (no transpose flags) that also reduces broadcast batch dims. */
  batchMatMulGrad: 'batch-mat-mul-grad',
  /** wasm `BatchMatMul` kernel: transpose flags become a real transpose; batched products run as fast 2-D products. */
  batchMatMulKernel: 'batch-mat-mul-kernel',
  /** wasm `_FusedMatMul` kernel: transpose flags become a real transpose. */
  fusedMatMulKernel: 'fused-mat-mul-kernel',
  /** wasm `BatchMatMul` on `@peftjs/native`'s SGEMM, in place on the heap (registered only when the addon loaded). */
  nativeMatMul: 'native-mat-mul',
  /** wasm `_FusedMatMul` on `@peftjs/native`'s SGEMM with the bias and activation fused in (only when the addon loaded). */
  nativeFusedMatMul: 'native-fused-mat-mul',
  /** wasm `UnsortedSegmentSum` kernel (embedding and gather gradients), which wasm lacks. */
  unsortedSegmentSum: 'unsorted-segment-sum',
  /** wasm `Conv2DBackpropFilter` kernel (conv filter gradients), which wasm lacks. */
  conv2DBackpropFilter: 'conv2d-backprop-filter',
  /** wasm `Identity` kernel that shares the input's memory instead of copying it. */
  identityShare: 'identity-share',
  /** `PeftjsFusedAdam`: one Adam / AdamW update per variable (native when the addon loaded), for `FusedAdamOptimizer`. */
  fusedAdam: 'fused-adam',
  /** `PeftjsStoreMatMul`: x·Wᵀ / x·W with W in @peftjs/native's frozen-weight store (only when the addon loaded). */
  storeMatMul: 'store-mat-mul',
  /** `PeftjsStoreGather`: embedding rows from the frozen-weight store (only when the addon loaded). */
  storeGather: 'store-gather',
  /** `Tile` gradient as one sum per tiled axis (tfjs-core's adds one slice per repetition). */
  tileGrad: 'tile-grad',
  /** `PeftjsRmsNorm`, `PeftjsSwiglu`, `PeftjsRotary`, `PeftjsAttentionSoftmax`, `PeftjsCrossEntropy`, … and their gradients on @peftjs/native (only when the addon loaded). */
  nativeFused: 'native-fused',
  /** wasm `Transpose` copying whole rows natively when the last axis stays last (attention's head layout; only when the addon loaded). */
  nativeTranspose: 'native-transpose',
  /** wasm `GatherV2` copying whole rows (embedding lookups): the stock kernel walks value by value. */
  gatherRows: 'gather-rows',
  /** wasm `SplitV` copying whole runs (GPT-2's fused q, k, v projection): the stock kernel walks value by value. */
  splitRows: 'split-rows',
} as const;

export type WasmFixName = (typeof WasmFix)[keyof typeof WasmFix];

/** Every fix, in registration order. */
export const WASM_FIX_NAMES: readonly WasmFixName[] = Object.values(WasmFix);
