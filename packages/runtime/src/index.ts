export { initBackend, getBackendReport, resolveBackendChoice, BACKEND_ENV_VAR, LEAN_BACKPROP_ENV_VAR } from './init-backend';
export type { InitBackendOptions } from './init-backend';
export { formatBackendReport } from './backend-report';
export type { BackendReport } from './backend-report';
export { BACKEND_NAMES, isBackendName } from './backends/backend-name';
export type { BackendName, BackendChoice } from './backends/backend-name';
export {
  WasmFix,
  WASM_FIX_NAMES,
  registerWasmFixes,
  unregisterWasmFixes,
  registeredWasmFixes,
  batchMatMulGradConfig,
} from './wasm-fixes/index';
export type { WasmFixName, RegisterWasmFixesOptions } from './wasm-fixes/index';
export { enableWasmThreads, wasmThreads, WASM_THREADS_ENV_VAR } from './backends/wasm-threads';
export type { WasmThreadsResult } from './backends/wasm-threads';
export { loadNativeKernels, nativeReport, setNativeThreads, THREADS_ENV_VAR } from './native/native-kernels';
export type { NativeReport, LoadNativeOptions } from './native/native-kernels';
export { FusedAdamOptimizer, FusedAdamWOptimizer, createFusedAdam, createFusedAdamW } from './optimizers/fused-adam-optimizer';
export type { FusedAdamOptions, FusedAdamWOptions } from './optimizers/fused-adam-optimizer';
export { FusedAdam } from './optimizers/fused-adam-kernel-name';
export {
  PeftRuntimeError,
  UnknownBackendError,
  BackendNotInstalledError,
  BackendInitError,
  NoBackendAvailableError,
  WasmFixesError,
} from './errors/index';
export { enableLeanBackprop, disableLeanBackprop, isLeanBackpropEnabled } from './gradients/lean-backprop';
