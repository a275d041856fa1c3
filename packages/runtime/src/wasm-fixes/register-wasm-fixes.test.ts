import '@tensorflow/tfjs-layers';

import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';

import { WasmFixesError } from '../errors/wasm-fixes-error';
import { initBackend } from '../init-backend';
import { batchMatMulGradConfig } from './batch-mat-mul-grad';
import { registeredWasmFixes, registerWasmFixes, unregisterWasmFixes } from './register-wasm-fixes';
import { WASM_FIX_NAMES, WasmFix } from './wasm-fix-names';

let stockGradient: tf.GradConfig;
/** Every fix, less the native ones where `@peftjs/native` is not available (they are then skipped). */
let allFixes: string[];

beforeAll(async () => {
  stockGradient = tf.getGradient(tf.BatchMatMul); // tfjs-layers registered it as it was imported
  const native = (await initBackend({ backend: 'wasm' })).native?.available === true;
  allFixes = WASM_FIX_NAMES.filter(
    (fix) =>
      native ||
      (fix !== WasmFix.nativeMatMul &&
        fix !== WasmFix.nativeFusedMatMul &&
        fix !== WasmFix.storeMatMul &&
        fix !== WasmFix.storeGather &&
        fix !== WasmFix.nativeFused &&
        fix !== WasmFix.nativeTranspose),
  );
});

function wasmKernelFuncs() {
  return Object.fromEntries(
    [tf.BatchMatMul, tf._FusedMatMul, tf.Identity, tf.UnsortedSegmentSum, tf.Conv2DBackpropFilter].map((name) => [name, tf.getKernel(name, 'wasm')?.kernelFunc]),
  );
}

describe('registerWasmFixes', () => {
  it('registers every fix once; registering again changes nothing', () => {
    expect(registeredWasmFixes()).toEqual(allFixes);
    const before = wasmKernelFuncs();
    expect(registerWasmFixes()).toEqual(allFixes);
    expect(wasmKernelFuncs()).toEqual(before);
    expect(tf.getGradient(tf.BatchMatMul)).toBe(batchMatMulGradConfig);
  });

  it('unregisters back to the stock kernels and gradient, and registers again', () => {
    const fixed = wasmKernelFuncs();
    unregisterWasmFixes();
    expect(registeredWasmFixes()).toEqual([]);
    const stock = wasmKernelFuncs();
    expect(stock[tf.UnsortedSegmentSum]).toBeUndefined();
    expect(stock[tf.Conv2DBackpropFilter]).toBeUndefined();
    expect(stock[tf.BatchMatMul]).not.toBe(fixed[tf.BatchMatMul]);
    expect(tf.getGradient(tf.BatchMatMul)).toBe(stockGradient);
    const stockSetup = tf.getKernel(tf.BatchMatMul, 'wasm').setupFunc;
    expect(stockSetup).toBeTypeOf('function');

    registerWasmFixes();
    expect(registeredWasmFixes()).toEqual(allFixes);
    expect(wasmKernelFuncs()).not.toEqual(stock);
    // The override keeps the stock setup (the backend runs it when it initialises).
    expect(tf.getKernel(tf.BatchMatMul, 'wasm').setupFunc).toBe(stockSetup);
    expect(tf.getGradient(tf.BatchMatMul)).toBe(batchMatMulGradConfig);
  });

  it('registers a chosen subset', () => {
    unregisterWasmFixes();
    try {
      expect(registerWasmFixes({ fixes: [WasmFix.unsortedSegmentSum] })).toEqual([WasmFix.unsortedSegmentSum]);
      expect(tf.getGradient(tf.BatchMatMul)).toBe(stockGradient);
    } finally {
      registerWasmFixes();
    }
  });

  it('registers the gradient again after another module overwrote it', () => {
    tf.registerGradient(stockGradient); // what importing tfjs-layers (again) does
    expect(registeredWasmFixes()).toContain(WasmFix.batchMatMulGrad);
    registerWasmFixes();
    expect(tf.getGradient(tf.BatchMatMul)).toBe(batchMatMulGradConfig);
  });

  it('names the valid choices for an unknown fix', () => {
    expect(() => registerWasmFixes({ fixes: ['faster-everything' as never] })).toThrow(WasmFixesError);
    expect(() => registerWasmFixes({ fixes: ['faster-everything' as never] })).toThrow(/valid choices: batch-mat-mul-grad/);
  });
});
