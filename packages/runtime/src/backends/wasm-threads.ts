import * as tf from '@tensorflow/tfjs-core';

import { importOptional, moduleExport } from './import-optional';

/** The environment variable that asks for multi-threaded wasm in Node (a thread count; default 1). */
export const WASM_THREADS_ENV_VAR = 'PEFTJS_WASM_THREADS';

/** What the multi-threaded wasm setup did. */
export interface WasmThreadsResult {
  /** Threads XNNPACK runs on (1: single-threaded). */
  readonly threads: number;
  /** Why fewer threads than asked for, when so. */
  readonly reason?: string;
}

interface EmscriptenWorker {
  ref(): void;
  unref(): void;
}

interface ThreadedModule {
  cwrap(name: string, returnType: string | null, argTypes: string[]): (...args: number[]) => number;
  PThread: { unusedWorkers: EmscriptenWorker[]; runningWorkers: EmscriptenWorker[]; allocateUnusedWorker(): void };
  tfjs?: Record<string, unknown>;
}

const state = ((globalThis as Record<symbol, unknown>)[Symbol.for('peftjs.runtime.wasmThreads')] ??= {}) as { threads?: number };

/**
 * Multi-threaded wasm in Node, which tfjs turns off there: `WASM_HAS_MULTITHREAD_SUPPORT` is false
 * in Node, its pthread workers are `Blob` URLs (Node's `Worker` takes a file), and it caps XNNPACK
 * at half the logical cores. Here the threaded build (`tfjs-backend-wasm-threaded-simd`) is started
 * by hand: the worker script tfjs embeds is written to a file in the temp directory, the main script
 * is given by path (the worker `importScripts` it from disk), the core count the cap is computed
 * from is reported as 2 × `threads`, and the pthread workers are unref'd so they never keep the
 * process alive. Then the `wasm` backend is registered again with a factory that builds tfjs'
 * `BackendWasm` on that module: every wasm kernel (and runtime's fixes) works unchanged.
 *
 * Must run before the wasm backend is first initialised (the heap cannot change afterwards).
 * Needs `@tensorflow/tfjs-backend-wasm` imported. Node only.
 */
export async function enableWasmThreads(threads: number): Promise<WasmThreadsResult> {
  if (!(threads > 1)) {
    return { threads: 1 };
  }
  if (state.threads !== undefined) {
    return { threads: state.threads };
  }
  if ((tf.engine() as unknown as { registry: Record<string, unknown> }).registry.wasm !== undefined) {
    return { threads: 1, reason: 'the wasm backend was already initialised single-threaded; ask for threads before it starts' };
  }
  if ((globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === undefined) {
    return { threads: 1, reason: 'only in Node (browsers get threads from tfjs itself when cross-origin isolated)' };
  }
  const wasmPackage = await importOptional('@tensorflow/tfjs-backend-wasm');
  const { createRequire } = (await importOptional('node:module')) as unknown as typeof import('node:module');
  const { mkdirSync, readFileSync, writeFileSync } = (await importOptional('node:fs')) as unknown as typeof import('node:fs');
  const { tmpdir } = (await importOptional('node:os')) as unknown as typeof import('node:os');
  const { dirname, join } = (await importOptional('node:path')) as unknown as typeof import('node:path');
  const require = createRequire(import.meta.url);
  const outDirectory = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'wasm-out');
  const version = String(moduleExport(wasmPackage, 'version_wasm') ?? 'unknown');
  const mainScript = join(outDirectory, 'tfjs-backend-wasm-threaded-simd.js');
  const factory = require(mainScript) as (config: Record<string, unknown>) => Promise<ThreadedModule>;
  const { wasmWorkerContents } = require(join(outDirectory, 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string };
  const workerDirectory = join(tmpdir(), `peftjs-wasm-threads-${version}-${process.getuid?.() ?? 'user'}`);
  mkdirSync(workerDirectory, { recursive: true });
  const workerScript = join(workerDirectory, 'tfjs-backend-wasm-threaded-simd.worker.js');
  // tfjs escapes newlines the same way before it makes its Blob: the embedded source has "\n" in strings.
  writeFileSync(workerScript, wasmWorkerContents.replace(/\n/g, '\\n'));
  const module = await factory({
    locateFile: (path: string) => (path.endsWith('.worker.js') ? workerScript : join(outDirectory, path)),
    mainScriptUrlOrBlob: mainScript,
    instantiateWasm: (info: { env: Record<string, unknown> }, receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void) => {
      // tfjs' C++ side gives XNNPACK half the logical cores: report twice the threads asked for.
      info.env.emscripten_num_logical_cores = () => 2 * threads;
      void WebAssembly.instantiate(readFileSync(join(outDirectory, 'tfjs-backend-wasm-threaded-simd.wasm')), info as WebAssembly.Imports).then((result) =>
        receive(result.instance, result.module),
      );
      return {};
    },
  });
  // Idle and running pthread workers must not keep Node alive (XNNPACK's threads never exit).
  const quiet = (worker: EmscriptenWorker) => {
    worker.ref = () => {};
    worker.unref();
  };
  [...module.PThread.unusedWorkers, ...module.PThread.runningWorkers].forEach(quiet);
  const allocate = module.PThread.allocateUnusedWorker.bind(module.PThread);
  module.PThread.allocateUnusedWorker = () => {
    allocate();
    module.PThread.unusedWorkers.forEach(quiet);
  };
  // What tfjs' own init() puts on the module.
  module.tfjs = {
    init: module.cwrap('init', null, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', null, ['number']),
    dispose: module.cwrap('dispose', null, []),
  };
  const BackendWasm = moduleExport(wasmPackage, 'BackendWasm') as new (module: unknown) => tf.KernelBackend;
  const setThreadsCount = moduleExport(wasmPackage, 'setThreadsCount') as (count: number) => void;
  const getThreadsCount = moduleExport(wasmPackage, 'getThreadsCount') as () => number;
  setThreadsCount(threads);
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', () => new BackendWasm(module), 2);
  if (!(await tf.setBackend('wasm'))) {
    return { threads: 1, reason: 'the threaded wasm backend failed to initialise' };
  }
  state.threads = getThreadsCount();
  return state.threads < threads ? { threads: state.threads, reason: `XNNPACK started ${state.threads} threads` } : { threads: state.threads };
}

/** The wasm threads in use (1 unless `enableWasmThreads` ran). */
export function wasmThreads(): number {
  return state.threads ?? 1;
}
