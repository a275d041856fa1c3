import { BatchMatMul, getKernel } from '@tensorflow/tfjs-core';

import { WasmFixesError } from '../errors/wasm-fixes-error';
import { batchMatMulGradFix } from './batch-mat-mul-grad';
import { batchMatMulKernelFix } from './batch-mat-mul-kernel';
import { conv2DBackpropFilterKernelFix } from './conv2d-backprop-filter-kernel';
import { fusedMatMulKernelFix } from './fused-mat-mul-kernel';
import { identityKernelFix } from './identity-kernel';
import type { Restore } from './kernel-override';
import { unsortedSegmentSumKernelFix } from './unsorted-segment-sum-kernel';
import type { WasmFixUnit } from './wasm-fix-unit';
import type { WasmFixName } from './wasm-fix-names';
import { WASM_FIX_NAMES } from './wasm-fix-names';

/** Every fix unit, in registration order. */
const units: readonly WasmFixUnit[] = [
  batchMatMulGradFix,
  batchMatMulKernelFix,
  fusedMatMulKernelFix,
  unsortedSegmentSumKernelFix,
  conv2DBackpropFilterKernelFix,
  identityKernelFix,
];

/**
 * What is registered, shared by every copy of this package in the process (tfjs' registries are
 * global too), so that each fix is registered once.
 */
const registered: Map<WasmFixName, Restore> = ((globalThis as Record<symbol, unknown>)[
  Symbol.for('peftjs.runtime.wasmFixes')
] ??= new Map<WasmFixName, Restore>()) as Map<WasmFixName, Restore>;

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
 * does not have to be initialised yet.
 *
 * @returns the fixes now registered.
 * @throws WasmFixesError when `@tensorflow/tfjs-backend-wasm` is not loaded or a name is unknown.
 */
export function registerWasmFixes(options: RegisterWasmFixesOptions = {}): WasmFixName[] {
  if (getKernel(BatchMatMul, 'wasm') == null) {
    throw new WasmFixesError(
      "the wasm backend's kernels are not registered: import '@tensorflow/tfjs-backend-wasm' " +
        '(or call initBackend()) before registerWasmFixes()',
    );
  }
  for (const unit of selectUnits(options.fixes)) {
    const restore = registered.get(unit.name);
    if (restore !== undefined) {
      if (unit.isActive()) {
        continue;
      }
      registered.delete(unit.name);
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
