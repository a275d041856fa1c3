import type { BackendLoader } from './backend-loader';
import type { BackendName } from './backend-name';
import { cpuBackendLoader } from './cpu-backend-loader';
import { tensorflowBackendLoader } from './tensorflow-backend-loader';
import { wasmBackendLoader } from './wasm-backend-loader';
import { webgpuBackendLoader } from './webgpu-backend-loader';

/** Every loader by backend name. Automatic selection tries them in `BACKEND_NAMES` order. */
export const backendLoaders: Readonly<Record<BackendName, BackendLoader>> = {
  tensorflow: tensorflowBackendLoader,
  webgpu: webgpuBackendLoader,
  wasm: wasmBackendLoader,
  cpu: cpuBackendLoader,
};
