/**
 * The native frozen-weight store (`@peftjs/native`, an optional dependency loaded on demand), as
 * far as this package uses it. Never imported statically: browsers and machines without the
 * addon get `undefined` and the array store.
 */

/** The addon functions the store uses (a subset of @peftjs/native's `NativeAddon`). */
export interface NativeStoreAddon {
  storeMapFile(path: string): number;
  storeUnmapFile(mapping: number): void;
  storeCreate(params: Float64Array, source?: ArrayBuffer | Uint8Array): number;
  storeFree(entry: number): void;
  storeInfo(entry: number): { rows: number; cols: number; storage: number; nested: number; bytes: number; mapped: boolean };
  storeStats(): { entries: number; bytes: number; mappedBytes: number };
  storeRead(entry: number, out: Float32Array, row0: number, rows: number): void;
  storeWrite(entry: number, values: Float32Array): void;
}

const stateKey = Symbol.for('peftjs.models.nativeStore');
type State = { addon?: NativeStoreAddon | null; reason?: string; loading?: Promise<void> };
const state: State = ((globalThis as Record<symbol, unknown>)[stateKey] ??= {}) as State;

/**
 * Loads the native store once (the addon's own self-test included). Resolves to undefined, with
 * `nativeStoreUnavailableReason()` saying why, when it cannot be used here.
 */
export async function loadNativeStore(): Promise<NativeStoreAddon | undefined> {
  if (state.addon === undefined) {
    state.loading ??= (async () => {
      const processLike = (globalThis as { process?: { versions?: { node?: string } } }).process;
      if (processLike?.versions?.node === undefined) {
        state.addon = null;
        state.reason = 'not in Node';
        return;
      }
      try {
        const specifier = '@peftjs/native';
        const module = (await import(/* @vite-ignore */ specifier)) as { loadNative: () => { available: boolean; addon?: unknown; reason?: string } };
        const status = module.loadNative();
        const addon = status.addon as Partial<NativeStoreAddon> | undefined;
        if (status.available && typeof addon?.storeCreate === 'function') {
          state.addon = addon as NativeStoreAddon;
        } else {
          state.addon = null;
          state.reason = status.available ? 'the installed @peftjs/native has no frozen-weight store (rebuild it)' : (status.reason ?? 'unavailable');
        }
      } catch (error) {
        state.addon = null;
        state.reason = `@peftjs/native is not installed or failed to import (${error instanceof Error ? error.message : String(error)})`;
      }
    })();
    await state.loading;
  }
  return state.addon ?? undefined;
}

/** The loaded native store, or undefined (not loaded yet, or unavailable). */
export function nativeStore(): NativeStoreAddon | undefined {
  return state.addon ?? undefined;
}

export function nativeStoreUnavailableReason(): string | undefined {
  return state.addon ? undefined : (state.reason ?? 'not loaded yet');
}
