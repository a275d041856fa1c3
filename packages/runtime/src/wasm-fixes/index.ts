export { WasmFix, WASM_FIX_NAMES } from './wasm-fix-names';
export type { WasmFixName } from './wasm-fix-names';
export { registerWasmFixes, unregisterWasmFixes, registeredWasmFixes } from './register-wasm-fixes';
export type { RegisterWasmFixesOptions } from './register-wasm-fixes';
export { batchMatMulGradConfig } from './batch-mat-mul-grad';
export { tileGradConfig } from './tile-grad';
export { NativeFusedKernel } from './native-fused-kernels';
