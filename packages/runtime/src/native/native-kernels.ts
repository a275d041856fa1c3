import type * as NativeModule from '@peftjs/native';
import type { NativeAddon } from '@peftjs/native';

import { importOptional, isModuleNotFound } from '../backends/import-optional';

/** Whether the native kernels (`@peftjs/native`) are in use, and why not. */
export interface NativeReport {
  readonly available: boolean;
  /** The GEMM in use (`avx512`, `avx2`, `portable`) when available. */
  readonly isa?: string;
  /** Threads large products are split over (1: none besides the caller). */
  readonly threads?: number;
  /** Why it is not available. */
  readonly reason?: string;
}

/**
 * The addon's parameter-block layouts, read from the loaded package: runtime takes no value import
 * of the optional `@peftjs/native`, and so repeats none of its tables.
 */
export type NativeLayout = Pick<typeof NativeModule, 'SgemmParam' | 'SGEMM_PARAMS' | 'AdamParam' | 'ADAM_PARAMS' | 'FusedOp' | 'FUSED_PARAMS'>;

interface NativeState {
  addon?: NativeAddon;
  layout?: NativeLayout;
  reason: string;
  loading?: Promise<void>;
}

const state: NativeState = ((globalThis as Record<symbol, unknown>)[Symbol.for('peftjs.runtime.native')] ??= {
  reason: 'not loaded yet (initBackend() or loadNativeKernels() loads it)',
}) as NativeState;

/** The environment variable that sets the native kernels' thread count (default 1). */
export const THREADS_ENV_VAR = 'PEFTJS_THREADS';

export interface LoadNativeOptions {
  /** Where to read `PEFTJS_NATIVE` and `PEFTJS_THREADS` (default `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Threads for large products (default `PEFTJS_THREADS`, else 1). */
  threads?: number;
}

/**
 * Loads `@peftjs/native` (an optional package: a Node addon built at install) once, and reports
 * whether it passed its self-test. Never throws: without it, runtime uses its JS and wasm kernels.
 * `initBackend()` calls this before registering the wasm fixes; call it yourself before
 * `registerWasmFixes()` to get the native kernels there.
 */
export async function loadNativeKernels(options: LoadNativeOptions = {}): Promise<NativeReport> {
  const env = options.env ?? (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
  if (state.addon === undefined) {
    state.loading ??= load(env);
    await state.loading;
    state.loading = undefined;
  }
  const threads = options.threads ?? parseThreads(env[THREADS_ENV_VAR]);
  if (state.addon !== undefined && threads !== undefined && state.addon.info().threads !== threads) {
    state.addon.setThreads(threads);
  }
  return nativeReport();
}

async function load(env: Readonly<Record<string, string | undefined>>): Promise<void> {
  if ((globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === undefined) {
    state.reason = 'not in Node';
    return;
  }
  let module: Record<string, unknown>;
  try {
    module = await importOptional('@peftjs/native');
  } catch (error) {
    state.reason = isModuleNotFound(error, '@peftjs/native')
      ? '@peftjs/native is not installed'
      : `@peftjs/native failed to import: ${error instanceof Error ? error.message : String(error)}`;
    return;
  }
  const loadNative = module.loadNative as (options: {
    env: Readonly<Record<string, string | undefined>>;
  }) => { available: true; addon: NativeAddon } | { available: false; reason: string };
  const status = loadNative({ env });
  if (status.available) {
    state.addon = status.addon;
    state.layout = module as unknown as NativeLayout;
    state.reason = '';
  } else {
    state.reason = status.reason;
  }
}

function parseThreads(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') {
    return undefined;
  }
  const threads = Number.parseInt(value, 10);
  return Number.isFinite(threads) && threads >= 1 ? threads : undefined;
}

let suspended = false;

/** The loaded addon's parameter layouts (undefined until it loads). */
export function nativeLayout(): NativeLayout | undefined {
  return state.layout;
}

/** The loaded addon, or undefined (not loaded, not installed, or failed its self-test). */
export function nativeAddon(): NativeAddon | undefined {
  return suspended ? undefined : state.addon;
}

/** For tests: hides the addon from kernels that look it up per call (fused Adam), to reach their JS path. */
export function suspendNativeForTests(value: boolean): void {
  suspended = value;
}

export function nativeReport(): NativeReport {
  if (state.addon === undefined) {
    return Object.freeze({ available: false, reason: state.reason });
  }
  const info = state.addon.info();
  return Object.freeze({ available: true, isa: info.isa, threads: info.threads });
}

/** Sets the native kernels' thread count; returns the count now used (1 without the addon). */
export function setNativeThreads(threads: number): number {
  return state.addon?.setThreads(threads) ?? 1;
}
