export {
  SAFETENSORS_DTYPES,
  SAFETENSORS_DTYPE_BYTES,
  SAFETENSORS_TO_TENSOR_DTYPE,
  WRITABLE_DTYPES,
  isSafetensorsDtype,
  type SafetensorsDtype,
  type TensorDtype,
} from './safetensors-dtype';
export type { TensorData, LoadedTensorData, TensorValues } from './tensor-data';
export { MAX_HEADER_BYTES, type SafetensorsHeader, type SafetensorsTensorInfo } from './safetensors-header';
export type { SafetensorsSource } from './byte-source';
export { openSafetensors, type SafetensorsReader } from './open-safetensors';
export { readSafetensorsHeader, loadSafetensors, loadSafetensorsData, type LoadSafetensorsOptions } from './load-safetensors';
export {
  planSafetensors,
  type SaveSafetensorsOptions,
  type WritableTensor,
  type SafetensorsPlan,
  type PlannedTensor,
} from './encode-safetensors';
export { serializeSafetensors, saveSafetensors } from './save-safetensors';
export {
  SAFETENSORS_INDEX_NAME,
  readSafetensorsIndex,
  loadShardedSafetensors,
  type SafetensorsIndex,
} from './sharded-safetensors';
