export { PeftRuntimeError } from './peft-runtime-error';
export { UnknownBackendError } from './unknown-backend-error';
export { BackendNotInstalledError } from './backend-not-installed-error';
export { BackendInitError } from './backend-init-error';
export { NoBackendAvailableError } from './no-backend-available-error';
export { WasmFixesError } from './wasm-fixes-error';
