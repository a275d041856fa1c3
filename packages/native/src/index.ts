export { loadNative, NATIVE_ENV_VAR } from './load-native';
export type { NativeStatus } from './load-native';
export { selfTest } from './self-test';
export {
  NATIVE_ISAS,
  SgemmParam,
  SGEMM_PARAMS,
  NativeActivation,
  AdamParam,
  ADAM_PARAMS,
  StoreStorage,
  StoreSource,
  StoreCreateParam,
  STORE_CREATE_PARAMS,
  StoreMatMulParam,
  STORE_MAT_MUL_PARAMS,
  StoreGatherParam,
  STORE_GATHER_PARAMS,
  FusedOp,
  FusedParam,
  FUSED_PARAMS,
} from './native-addon';
export type { NativeAddon, NativeInfo, NativeIsa, NativeMemory, NativeActivationName, NativeStoreEntryInfo, NativeStoreStats, FusedOpName } from './native-addon';
