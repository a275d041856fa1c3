import { backendLoaders } from './backends/backend-loaders';
import type { BackendChoice, BackendName } from './backends/backend-name';
import { BACKEND_NAMES, isBackendName } from './backends/backend-name';
import type { BackendReport } from './backend-report';
import { NoBackendAvailableError } from './errors/no-backend-available-error';
import { UnknownBackendError } from './errors/unknown-backend-error';
import { wasmThreadsResult } from './backends/wasm-backend-loader';
import { webgpuAdapterReport } from './backends/webgpu-backend-loader';
import { WASM_THREADS_ENV_VAR, wasmThreads } from './backends/wasm-threads';
import { disableLeanBackprop, enableLeanBackprop } from './gradients/lean-backprop';
import { loadNativeKernels, nativeReport } from './native/native-kernels';
import { registeredWasmFixes, registerWasmFixes, unregisterWasmFixes } from './wasm-fixes/register-wasm-fixes';
import type { WasmFixName } from './wasm-fixes/wasm-fix-names';
import { WASM_FIX_NAMES, WasmFix } from './wasm-fixes/wasm-fix-names';

const NATIVE_FIXES: readonly WasmFixName[] = [WasmFix.nativeMatMul, WasmFix.nativeFusedMatMul, WasmFix.nativeFused, WasmFix.nativeTranspose];

/** The environment variable that overrides automatic backend selection. */
export const BACKEND_ENV_VAR = 'PEFTJS_BACKEND';

/** The environment variable that turns lean backprop off (`0`). */
export const LEAN_BACKPROP_ENV_VAR = 'PEFTJS_LEAN_BACKPROP';

export interface InitBackendOptions {
  /**
   * The backend to use, or `'auto'` (the default) for the best one installed:
   * `tensorflow` (tfjs-node-gpu, then tfjs-node), then `webgpu` (a hardware adapter only), then
   * `wasm`, then `cpu`.
   * Takes precedence over the `PEFTJS_BACKEND` environment variable.
   */
  backend?: BackendChoice;
  /**
   * Register the wasm fixes when the backend is `wasm` (default true). See `registerWasmFixes`.
   * `false` registers nothing (fixes registered earlier stay; `unregisterWasmFixes` removes them).
   */
  wasmFixes?: boolean;
  /**
   * Use `@peftjs/native` on wasm when it is installed, built and passes its self-test (default
   * true; `PEFTJS_NATIVE=0` also turns it off). `false` also removes native kernels registered earlier.
   */
  native?: boolean;
  /** Threads for the native kernels' large products (default `PEFTJS_THREADS`, else 1). */
  threads?: number;
  /**
   * Multi-threaded wasm in Node: XNNPACK on this many threads (default `PEFTJS_WASM_THREADS`, else
   * 1, single-threaded). Takes effect only if the wasm backend has not started yet in this process.
   */
  wasmThreads?: number;
  /**
   * Free each tape entry as soon as the backward pass has used it (default true;
   * `PEFTJS_LEAN_BACKPROP=0` also turns it off). See `enableLeanBackprop`. Global: every backend.
   */
  leanBackprop?: boolean;
  /** Where to read `PEFTJS_BACKEND`, `PEFTJS_NATIVE`, `PEFTJS_THREADS`, `PEFTJS_LEAN_BACKPROP` from; defaults to `process.env` (ignored where there is none). */
  env?: Readonly<Record<string, string | undefined>>;
}

let lastReport: BackendReport | undefined;

/**
 * Picks the best TensorFlow.js backend present, makes it the active one, registers the fixes it
 * needs (on `wasm`), and reports what it did.
 *
 * Idempotent: calling it again re-selects the same backend (a cheap no-op once initialised) and
 * re-registers any fix another module overwrote since.
 *
 * @throws UnknownBackendError when `options.backend` or `PEFTJS_BACKEND` names no backend.
 * @throws BackendNotInstalledError when the backend asked for by name is not installed.
 * @throws BackendInitError when the backend asked for by name is installed but fails to start.
 * @throws NoBackendAvailableError when automatic selection finds nothing that works.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendReport> {
  const choice = resolveBackendChoice(options);
  // Applied once a backend is up: a failed call changes nothing.
  const applyLeanBackprop = leanBackpropWanted(options) ? enableLeanBackprop : disableLeanBackprop;
  const candidates: readonly BackendName[] = choice === 'auto' ? BACKEND_NAMES : [choice];
  const attempts: { backend: string; error: Error }[] = [];
  for (const name of candidates) {
    let loaded;
    try {
      loaded = await backendLoaders[name].load({
        wasmThreads: options.wasmThreads ?? threadsFromEnv(options.env, WASM_THREADS_ENV_VAR),
        acceptSoftwareAdapter: choice !== 'auto',
      });
    } catch (error) {
      if (choice !== 'auto') {
        throw error;
      }
      attempts.push({ backend: name, error: error instanceof Error ? error : new Error(String(error)) });
      continue;
    }
    if (name === 'webgpu') {
      applyLeanBackprop();
      lastReport = Object.freeze({ backend: name, ...loaded, fixes: Object.freeze([]), adapter: webgpuAdapterReport() });
      return lastReport;
    }
    if (name !== 'wasm') {
      applyLeanBackprop();
      lastReport = Object.freeze({ backend: name, ...loaded, fixes: Object.freeze([]) });
      return lastReport;
    }
    const useNative = options.native !== false;
    if (useNative) {
      await loadNativeKernels({ env: options.env, threads: options.threads });
    } else {
      unregisterWasmFixes({ fixes: NATIVE_FIXES });
    }
    // The report tells what is registered, including fixes an earlier call registered.
    const fixes = options.wasmFixes === false ? registeredWasmFixes() : registerWasmFixes(useNative ? {} : { fixes: WASM_FIX_NAMES.filter((fix) => !NATIVE_FIXES.includes(fix)) });
    const native = useNative ? nativeReport() : Object.freeze({ available: false, reason: 'turned off (native: false)' });
    const threadsResult = wasmThreadsResult();
    const wasmThreadsReport = Object.freeze({ threads: wasmThreads(), ...(threadsResult.reason === undefined ? {} : { reason: threadsResult.reason }) });
    applyLeanBackprop();
    lastReport = Object.freeze({ backend: name, ...loaded, fixes: Object.freeze([...fixes]), native, wasmThreads: wasmThreadsReport });
    return lastReport;
  }
  throw new NoBackendAvailableError({ attempts });
}

function leanBackpropWanted(options: InitBackendOptions): boolean {
  if (options.leanBackprop !== undefined) return options.leanBackprop;
  const source = options.env ?? (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return source?.[LEAN_BACKPROP_ENV_VAR]?.trim() !== '0';
}

function threadsFromEnv(env: InitBackendOptions['env'], name: string): number | undefined {
  const source = env ?? (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const value = Number.parseInt(source?.[name] ?? '', 10);
  return Number.isFinite(value) && value >= 1 ? value : undefined;
}

/** The report of the last successful `initBackend` call, if any. */
export function getBackendReport(): BackendReport | undefined {
  return lastReport;
}

/** `options.backend`, else `PEFTJS_BACKEND`, else `'auto'`; validated. */
export function resolveBackendChoice(options: InitBackendOptions = {}): BackendChoice {
  const validChoices = ['auto', ...BACKEND_NAMES];
  if (options.backend !== undefined) {
    return parseChoice(options.backend, 'option', validChoices);
  }
  const env = options.env ?? (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const fromEnv = env?.[BACKEND_ENV_VAR];
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    return parseChoice(fromEnv, 'env', validChoices);
  }
  return 'auto';
}

function parseChoice(raw: string, source: 'option' | 'env', validChoices: readonly string[]): BackendChoice {
  const value = String(raw).trim().toLowerCase();
  if (value === 'auto' || isBackendName(value)) {
    return value;
  }
  throw new UnknownBackendError({ requested: String(raw), source, validChoices });
}
