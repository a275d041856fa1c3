import type { BackendLoader } from './backend-loader';
import { createTfjsPackageLoader } from './tfjs-package-loader';

/** `@tensorflow/tfjs-backend-wasm`: XNNPACK with SIMD, single-threaded in Node. The default everywhere. */
export const wasmBackendLoader: BackendLoader = createTfjsPackageLoader({
  name: 'wasm',
  packageName: '@tensorflow/tfjs-backend-wasm',
  versionExport: 'version_wasm',
  initHint:
    'the .wasm binaries could not be loaded (in a bundle, serve them and call setWasmPaths() from @tensorflow/tfjs-backend-wasm)',
});
