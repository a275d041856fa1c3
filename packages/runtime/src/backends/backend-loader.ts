import type { BackendName } from './backend-name';

/** What a loader found: the package that provides the backend, its version, and whether a GPU is in use. */
export interface LoadedBackend {
  readonly packageName: string;
  readonly version: string;
  readonly gpu: boolean;
}

/** What `initBackend` passes to a loader. */
export interface LoadOptions {
  /** wasm: threads for XNNPACK in Node (see `enableWasmThreads`); 1 or undefined: single-threaded. */
  readonly wasmThreads?: number;
  /** webgpu: accept a software (fallback) adapter such as lavapipe; true when webgpu is asked for by name. */
  readonly acceptSoftwareAdapter?: boolean;
}

/**
 * One backend's way in. `load` imports the optional package with a dynamic `import()`, makes the
 * backend the active tfjs backend, and reports what it found. It throws `BackendNotInstalledError`
 * when no package that provides the backend is installed, and `BackendInitError` when one is but
 * fails to load or initialise.
 *
 * A new backend (webgpu) is one more file exporting a `BackendLoader` and one more entry in
 * `BACKEND_NAMES` and the loader table.
 */
export interface BackendLoader {
  readonly name: BackendName;
  /** The npm packages that provide this backend, best first. */
  readonly packageNames: readonly string[];
  load(options?: LoadOptions): Promise<LoadedBackend>;
}
