/**
 * The dtypes a safetensors file can declare, in the order of the Rust `safetensors::Dtype` enum
 * (increasing alignment). The writer sorts tensors by this order, descending, then by name, as
 * the Rust/Python library does.
 */
export const SAFETENSORS_DTYPES = ['BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64'] as const;

export type SafetensorsDtype = (typeof SAFETENSORS_DTYPES)[number];

/** The tfjs dtypes this package produces and accepts. */
export type TensorDtype = 'float32' | 'int32' | 'bool';

/** Bytes per element of each safetensors dtype. */
export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

/**
 * The tfjs dtype a safetensors dtype is read as. Floats become float32 (F64, F16 and BF16 are
 * converted), integers become int32 (range-checked where they could overflow), BOOL becomes bool.
 * The 8-bit float formats have no tfjs equivalent and are absent.
 */
export const SAFETENSORS_TO_TENSOR_DTYPE: Readonly<Partial<Record<SafetensorsDtype, TensorDtype>>> = {
  BOOL: 'bool',
  U8: 'int32',
  I8: 'int32',
  I16: 'int32',
  U16: 'int32',
  F16: 'float32',
  BF16: 'float32',
  I32: 'int32',
  U32: 'int32',
  F32: 'float32',
  F64: 'float32',
  I64: 'int32',
  U64: 'int32',
};

/** The safetensors dtypes each tfjs dtype can be written as. */
export const WRITABLE_DTYPES: Readonly<Record<TensorDtype, readonly SafetensorsDtype[]>> = {
  float32: ['F32', 'F16', 'BF16', 'F64'],
  int32: ['I32', 'I64', 'I16', 'I8', 'U8'],
  bool: ['BOOL', 'U8'],
};

export function isSafetensorsDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === 'string' && (SAFETENSORS_DTYPES as readonly string[]).includes(value);
}

/** Position in the Rust enum; the writer sorts by it, descending. */
export function safetensorsDtypeRank(dtype: SafetensorsDtype): number {
  return SAFETENSORS_DTYPES.indexOf(dtype);
}
