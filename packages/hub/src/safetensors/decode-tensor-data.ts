import { SafetensorsFormatError } from '../errors/safetensors-format-error';
import { decodeBfloat16, decodeFloat16 } from './half-precision';
import { SAFETENSORS_DTYPE_BYTES, SAFETENSORS_TO_TENSOR_DTYPE } from './safetensors-dtype';
import type { SafetensorsTensorInfo } from './safetensors-header';
import { LITTLE_ENDIAN_HOST, swapBytes, type LoadedTensorData, type TensorValues } from './tensor-data';

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/**
 * Converts a tensor's little-endian bytes to tfjs-ready values. `fresh` says the bytes are a new
 * buffer this call may reinterpret in place; otherwise they are copied first, so the result never
 * aliases the caller's input.
 */
export function decodeTensorData(info: SafetensorsTensorInfo, input: Uint8Array, fresh: boolean, source?: string): LoadedTensorData {
  const { dtype, name } = info;
  const tensorDtype = SAFETENSORS_TO_TENSOR_DTYPE[dtype];
  if (tensorDtype === undefined) {
    throw new SafetensorsFormatError({
      problem: 'unsupported-dtype',
      message: `tensor "${name}": dtype ${dtype} has no tfjs equivalent and cannot be loaded`,
      tensorName: name,
      source,
    });
  }
  const width = SAFETENSORS_DTYPE_BYTES[dtype];
  // A fresh buffer starts at offset 0, so it is aligned; a borrowed one is copied (slice → aligned).
  const bytes = fresh && input.byteOffset % width === 0 ? input : input.slice();
  if (!LITTLE_ENDIAN_HOST) {
    swapBytes(bytes, width);
  }
  const count = bytes.byteLength / width;
  const buffer = bytes.buffer;
  const offset = bytes.byteOffset;
  let values: TensorValues;
  switch (dtype) {
    case 'F32':
      values = new Float32Array(buffer, offset, count);
      break;
    case 'F64':
      values = Float32Array.from(new Float64Array(buffer, offset, count));
      break;
    case 'F16':
      values = decodeFloat16(new Uint16Array(buffer, offset, count));
      break;
    case 'BF16':
      values = decodeBfloat16(new Uint16Array(buffer, offset, count));
      break;
    case 'I32':
      values = new Int32Array(buffer, offset, count);
      break;
    case 'I16':
      values = Int32Array.from(new Int16Array(buffer, offset, count));
      break;
    case 'U16':
      values = Int32Array.from(new Uint16Array(buffer, offset, count));
      break;
    case 'I8':
      values = Int32Array.from(new Int8Array(buffer, offset, count));
      break;
    case 'U8':
      values = Int32Array.from(new Uint8Array(buffer, offset, count));
      break;
    case 'U32': {
      const words = new Uint32Array(buffer, offset, count);
      for (let index = 0; index < count; index++) {
        if (words[index] > INT32_MAX) {
          throw outOfRange(info, index, BigInt(words[index]), source);
        }
      }
      values = new Int32Array(buffer, offset, count);
      break;
    }
    case 'I64':
    case 'U64': {
      // 64-bit integers as pairs of 32-bit words (low, high). A value fits in int32
      // when the high word is the sign extension of the low one (and, for U64, the value is >= 0).
      const words = new Int32Array(buffer, offset, count * 2);
      const lowWord = LITTLE_ENDIAN_HOST ? 0 : 1;
      const result = new Int32Array(count);
      for (let index = 0; index < count; index++) {
        const low = words[2 * index + lowWord];
        const high = words[2 * index + 1 - lowWord];
        if (high !== low >> 31 || (dtype === 'U64' && low < 0)) {
          const view = new DataView(buffer, offset + index * 8, 8);
          const value = dtype === 'I64' ? view.getBigInt64(0, LITTLE_ENDIAN_HOST) : view.getBigUint64(0, LITTLE_ENDIAN_HOST);
          throw outOfRange(info, index, value, source);
        }
        result[index] = low;
      }
      values = result;
      break;
    }
    case 'BOOL': {
      const result = new Uint8Array(count);
      for (let index = 0; index < count; index++) {
        result[index] = bytes[index] === 0 ? 0 : 1;
      }
      values = result;
      break;
    }
    default:
      throw new SafetensorsFormatError({
        problem: 'unsupported-dtype',
        message: `tensor "${name}": dtype ${dtype} cannot be loaded`,
        tensorName: name,
        source,
      });
  }
  return { dtype: tensorDtype, sourceDtype: dtype, shape: info.shape, values };
}

function outOfRange(info: SafetensorsTensorInfo, index: number, value: bigint, source: string | undefined): SafetensorsFormatError {
  return new SafetensorsFormatError({
    problem: 'value-out-of-range',
    message: `tensor "${info.name}": ${info.dtype} value ${value} at flat index ${index} does not fit in int32 (${INT32_MIN}..${INT32_MAX}); tfjs has no 64-bit integers`,
    tensorName: info.name,
    source,
  });
}
