import { InvalidConfigError } from '@peftjs/core';

/** How frozen base weights are stored (transformers' `torch_dtype`). Computation stays float32. */
export const FROZEN_DTYPES = ['float32', 'bfloat16', 'float16'] as const;
export type FrozenDtype = (typeof FROZEN_DTYPES)[number];

/**
 * Quantised storage, as bitsandbytes defines it: `int8` per-output-channel absmax (LLM.int8's
 * weight format), `nf4` / `fp4` block-wise absmax over blocks of 64 (QLoRA).
 */
export const QUANTIZATIONS = ['int8', 'nf4', 'fp4'] as const;
export type Quantization = (typeof QUANTIZATIONS)[number];

/** Where and how frozen base weights live. */
export interface FrozenStorage {
  readonly dtype: FrozenDtype;
  readonly quantization: Quantization | undefined;
  /** 4-bit only: double-quantise the block absmax (bitsandbytes' `bnb_4bit_use_double_quant`). */
  readonly doubleQuant: boolean;
}

/** The storage codes the native store and the array store share. */
export const STORAGE_CODES = { float32: 0, bfloat16: 1, float16: 2, int8: 3, nf4: 4, fp4: 5 } as const;
export type StorageName = keyof typeof STORAGE_CODES;

/** The one storage format of a `FrozenStorage` (a quantisation wins over the dtype). */
export function storageName(storage: FrozenStorage): StorageName {
  return storage.quantization ?? storage.dtype;
}

/** Bytes per value, statistics included (for memory estimates). */
export function bytesPerValue(storage: FrozenStorage): number {
  switch (storageName(storage)) {
    case 'float32':
      return 4;
    case 'bfloat16':
    case 'float16':
      return 2;
    case 'int8':
      return 1;
    default:
      return storage.doubleQuant ? 0.5 + 1 / 64 + 4 / (64 * 256) : 0.5 + 4 / 64;
  }
}

/** Checks user-given `dtype` / `quantization` values (a typed error names the valid choices). */
export function parseFrozenStorage(options: { dtype?: string; quantization?: string; doubleQuant?: boolean }): FrozenStorage {
  const dtype = options.dtype ?? 'float32';
  if (!(FROZEN_DTYPES as readonly string[]).includes(dtype)) {
    throw new InvalidConfigError(`dtype "${dtype}" is not supported; valid: ${FROZEN_DTYPES.join(', ')}`, { field: 'dtype' });
  }
  const quantization = options.quantization;
  if (quantization !== undefined && !(QUANTIZATIONS as readonly string[]).includes(quantization)) {
    throw new InvalidConfigError(`quantization "${quantization}" is not supported; valid: ${QUANTIZATIONS.join(', ')}`, { field: 'quantization' });
  }
  const doubleQuant = options.doubleQuant ?? false;
  if (doubleQuant && quantization !== 'nf4' && quantization !== 'fp4') {
    throw new InvalidConfigError(`doubleQuant applies to 4-bit quantization (nf4, fp4), not ${quantization ?? `dtype ${dtype}`}`, { field: 'doubleQuant' });
  }
  return { dtype: dtype as FrozenDtype, quantization: quantization as Quantization | undefined, doubleQuant };
}
