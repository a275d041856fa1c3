import type { BackendLoader } from './backend-loader';
import { createTfjsPackageLoader } from './tfjs-package-loader';
import { enableWasmThreads } from './wasm-threads';

let lastThreadsResult: { threads: number; reason?: string } = { threads: 1 };

/** What the last wasm load did about threads. */
export function wasmThreadsResult(): { threads: number; reason?: string } {
  return lastThreadsResult;
}

/** `@tensorflow/tfjs-backend-wasm`: XNNPACK with SIMD, single-threaded in Node. The default everywhere. */
export const wasmBackendLoader: BackendLoader = createTfjsPackageLoader({
  name: 'wasm',
  packageName: '@tensorflow/tfjs-backend-wasm',
  versionExport: 'version_wasm',
  initHint: 'the .wasm binaries could not be loaded (in a bundle, serve them and call setWasmPaths() from @tensorflow/tfjs-backend-wasm)',
  async beforeActivate(options) {
    lastThreadsResult = { threads: 1 };
    if (options.wasmThreads !== undefined && options.wasmThreads > 1) {
      try {
        lastThreadsResult = await enableWasmThreads(options.wasmThreads);
      } catch (error) {
        // The single-threaded backend tfjs registered is still there (nothing was replaced yet).
        lastThreadsResult = { threads: 1, reason: `the threaded build failed to start: ${error instanceof Error ? error.message : String(error)}` };
      }
    }
  },
});
