import { BatchMatMul, getKernel } from '@tensorflow/tfjs-core';

import { WasmFixesError } from '../errors/wasm-fixes-error';
import { batchMatMulGradFix } from './batch-mat-mul-grad';
import { batchMatMulKernelFix } from './batch-mat-mul-kernel';
import { conv2DBackpropFilterKernelFix } from './conv2d-backprop-filter-kernel';
import { fusedAdamKernelFix } from './fused-adam-kernel';
import { fusedMatMulKernelFix } from './fused-mat-mul-kernel';
import { identityKernelFix } from './identity-kernel';
import type { Restore } from './kernel-override';
import { nativeFusedKernelsFix, nativeTransposeKernelFix } from './native-fused-kernels';
import { nativeFusedMatMulKernelFix, nativeMatMulKernelFix } from './native-mat-mul-kernel';
import { storeGatherKernelFix, storeMatMulKernelFix } from './store-kernels';
import { gatherRowsKernelFix, splitRowsKernelFix } from './row-copy-kernels';
import { tileGradFix } from './tile-grad';
import { unsortedSegmentSumKernelFix } from './unsorted-segment-sum-kernel';
import type { WasmFixUnit } from './wasm-fix-unit';
import type { WasmFixName } from './wasm-fix-names';
import { WASM_FIX_NAMES } from './wasm-fix-names';

/**
 * Every fix unit, in registration order. Overrides of one kernel stack in this order: the native
 * products go over runtime's own kernels, and fall back to them for what they do not cover.
 */
const units: readonly WasmFixUnit[] = [
  batchMatMulGradFix,
  batchMatMulKernelFix,
  fusedMatMulKernelFix,
  nativeMatMulKernelFix,
  nativeFusedMatMulKernelFix,
  unsortedSegmentSumKernelFix,
  conv2DBackpropFilterKernelFix,
  identityKernelFix,
  fusedAdamKernelFix,
  storeMatMulKernelFix,
  storeGatherKernelFix,
  tileGradFix,
  nativeFusedKernelsFix,
  nativeTransposeKernelFix,
  gatherRowsKernelFix,
  splitRowsKernelFix,
];

/**
 * What is registered, shared by every copy of this package in the process (tfjs' registries are
 * global too), so that each fix is registered once.
 */
const registered: Map<WasmFixName, Restore> = ((globalThis as Record<symbol, unknown>)[Symbol.for('peftjs.runtime.wasmFixes')] ??= new Map<WasmFixName, Restore>()) as Map<
  WasmFixName,
  Restore
>;

export interface RegisterWasmFixesOptions {
  /** The fixes to register (default: all of them). Fixes not listed are left as they are. */
  fixes?: readonly WasmFixName[];
}

/**
 * Registers the wasm backend fixes (see `WasmFix`): faster matrix products and gradients, and the
 * kernels wasm lacks for training. Idempotent; a fix whose global registration another module
 * overwrote since (tfjs-layers registers every gradient as it is imported) is registered again.
 * `initBackend()` calls this when it picks wasm; call it yourself after `tf.setBackend('wasm')`.
 *
 * Needs the wasm backend's kernels (import `@tensorflow/tfjs-backend-wasm` first). The backend
 * does not have to be initialised yet. The native kernels (`native-mat-mul`, `native-fused-mat-mul`)
 * are registered only when `@peftjs/native` has been loaded (`initBackend()` or
 * `loadNativeKernels()` loads it); without it they are skipped.
 *
 * @returns the fixes now registered.
 * @throws WasmFixesError when `@tensorflow/tfjs-backend-wasm` is not loaded or a name is unknown.
 */
export function registerWasmFixes(options: RegisterWasmFixesOptions = {}): WasmFixName[] {
  if (getKernel(BatchMatMul, 'wasm') == null) {
    throw new WasmFixesError("the wasm backend's kernels are not registered: import '@tensorflow/tfjs-backend-wasm' " + '(or call initBackend()) before registerWasmFixes()');
  }
  const selected = selectUnits(options.fixes);
  const toApply = new Set(selected.filter((unit) => !registered.has(unit.name) || !unit.isActive()));
  // A unit stacks over the kernel it overrides: to keep the stack in registration order, the units
  // registered after it over the same kernel come off first and go back on top.
  for (const unit of [...toApply]) {
    if (unit.kernelName === undefined) {
      continue;
    }
    for (const later of units.slice(units.indexOf(unit) + 1)) {
      if (later.kernelName === unit.kernelName && registered.has(later.name)) {
        toApply.add(later);
      }
    }
  }
  for (const unit of [...units].reverse()) {
    const restore = registered.get(unit.name);
    if (toApply.has(unit) && restore !== undefined) {
      restore(); // also unlinks a stale override that something else was registered over
      registered.delete(unit.name);
    }
  }
  for (const unit of units) {
    if (!toApply.has(unit)) {
      continue;
    }
    const undo = unit.apply();
    if (undo !== null) {
      registered.set(unit.name, undo);
    }
  }
  return registeredWasmFixes();
}

/**
 * Removes registered fixes (default: all), putting back the stock kernels and gradient. For
 * benchmarks and tests that compare stock and fixed behaviour in one process.
 */
export function unregisterWasmFixes(options: RegisterWasmFixesOptions = {}): void {
  for (const unit of [...selectUnits(options.fixes)].reverse()) {
    const restore = registered.get(unit.name);
    if (restore !== undefined) {
      restore();
      registered.delete(unit.name);
    }
  }
}

/** The fixes registered now, in registration order. */
export function registeredWasmFixes(): WasmFixName[] {
  return WASM_FIX_NAMES.filter((name) => registered.has(name));
}

function selectUnits(names: readonly WasmFixName[] | undefined): readonly WasmFixUnit[] {
  if (names === undefined) {
    return units;
  }
  for (const name of names) {
    if (!WASM_FIX_NAMES.includes(name)) {
      throw new WasmFixesError(`unknown wasm fix "${name}"; valid choices: ${WASM_FIX_NAMES.join(', ')}`);
    }
  }
  return units.filter((unit) => names.includes(unit.name));
}
