import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';

import { formatBackendReport } from './backend-report';
import { BackendNotInstalledError } from './errors/backend-not-installed-error';
import { PeftRuntimeError } from './errors/peft-runtime-error';
import { UnknownBackendError } from './errors/unknown-backend-error';
import { isLeanBackpropEnabled } from './gradients/lean-backprop';
import { getBackendReport, initBackend, resolveBackendChoice } from './init-backend';
import { registeredWasmFixes, unregisterWasmFixes } from './wasm-fixes/register-wasm-fixes';
import { WASM_FIX_NAMES, WasmFix } from './wasm-fixes/wasm-fix-names';

const noEnv = {};

const nativeFixes: string[] = [WasmFix.nativeMatMul, WasmFix.nativeFusedMatMul, WasmFix.nativeFused, WasmFix.nativeTranspose];
/** Every fix, less the native ones when `@peftjs/native` is not built here. */
const allFixes = (native: boolean) => WASM_FIX_NAMES.filter((fix) => native || !nativeFixes.includes(fix));

afterAll(async () => {
  await initBackend({ backend: 'wasm', env: noEnv });
});

describe('initBackend', () => {
  it('picks wasm here (tfjs-node is not installed) and registers the fixes', async () => {
    const report = await initBackend({ env: noEnv });
    const native = report.native!.available;
    expect(report).toEqual({
      backend: 'wasm',
      gpu: false,
      packageName: '@tensorflow/tfjs-backend-wasm',
      version: '4.22.0',
      fixes: allFixes(native),
      native: native ? { available: true, isa: expect.stringMatching(/^(avx512|avx2|portable)$/), threads: 1 } : { available: false, reason: expect.any(String) },
      wasmThreads: { threads: 1 },
    });
    expect(tf.getBackend()).toBe('wasm');
    expect(getBackendReport()).toEqual(report);
    expect(formatBackendReport(report)).toBe(
      `tfjs backend: wasm (@tensorflow/tfjs-backend-wasm 4.22.0), no GPU, fixes: ${allFixes(native).join(', ')}, native: ` +
        (native ? `${report.native!.isa} (1 thread)` : `off (${report.native!.reason})`),
    );
  });

  it('turns lean backprop on by default; leanBackprop: false or PEFTJS_LEAN_BACKPROP=0 turns it off', async () => {
    await initBackend({ backend: 'cpu', env: noEnv });
    expect(isLeanBackpropEnabled()).toBe(true);
    await initBackend({ backend: 'cpu', env: noEnv, leanBackprop: false });
    expect(isLeanBackpropEnabled()).toBe(false);
    await initBackend({ backend: 'cpu', env: { PEFTJS_LEAN_BACKPROP: '1' } });
    expect(isLeanBackpropEnabled()).toBe(true);
    await initBackend({ backend: 'cpu', env: { PEFTJS_LEAN_BACKPROP: '0' } });
    expect(isLeanBackpropEnabled()).toBe(false);
    await initBackend({ backend: 'cpu', env: noEnv });
    expect(isLeanBackpropEnabled()).toBe(true);
  });

  it('is idempotent', async () => {
    const first = await initBackend({ env: noEnv });
    const kernel = tf.getKernel(tf.BatchMatMul, 'wasm').kernelFunc;
    const backendInstance = tf.backend();
    const second = await initBackend({ env: noEnv });
    expect(second).toEqual(first);
    expect(tf.backend()).toBe(backendInstance);
    expect(tf.getKernel(tf.BatchMatMul, 'wasm').kernelFunc).toBe(kernel);
  });

  it('takes the backend from options, then PEFTJS_BACKEND', async () => {
    const cpu = await initBackend({ env: { PEFTJS_BACKEND: 'cpu' } });
    expect(cpu).toMatchObject({ backend: 'cpu', packageName: '@tensorflow/tfjs-backend-cpu', version: '4.22.0', fixes: [] });
    expect(tf.getBackend()).toBe('cpu');
    const wasm = await initBackend({ backend: 'wasm', env: { PEFTJS_BACKEND: 'cpu' } });
    expect(wasm.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(resolveBackendChoice({ env: { PEFTJS_BACKEND: ' WASM ' } })).toBe('wasm');
    expect(resolveBackendChoice({ env: { PEFTJS_BACKEND: '' } })).toBe('auto');
    expect(resolveBackendChoice({ backend: 'auto', env: { PEFTJS_BACKEND: 'cpu' } })).toBe('auto');
  });

  it('rejects an unknown name with a typed error naming the valid choices', async () => {
    const fromEnv = initBackend({ env: { PEFTJS_BACKEND: 'webgl' } });
    await expect(fromEnv).rejects.toThrow(UnknownBackendError);
    await expect(fromEnv).rejects.toThrow('unknown backend "webgl" (from PEFTJS_BACKEND); valid choices: auto, tensorflow, webgpu, wasm, cpu');
    const error = await initBackend({ backend: 'gpu' as never }).catch((caught: unknown) => caught);
    expect(UnknownBackendError.isInstance(error)).toBe(true);
    expect(PeftRuntimeError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ requested: 'gpu', source: 'option', validChoices: ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] });
  });

  it('names the packages to install for a backend that is not installed', async () => {
    const error = await initBackend({ backend: 'tensorflow' }).catch((caught: unknown) => caught);
    expect(BackendNotInstalledError.isInstance(error)).toBe(true);
    expect((error as Error).message).toBe('backend "tensorflow" is not installed: run `npm install @tensorflow/tfjs-node-gpu` (or @tensorflow/tfjs-node)');
    expect(error).toMatchObject({ backend: 'tensorflow', packageNames: ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] });
    expect(tf.getBackend()).toBe('wasm'); // a failed request leaves the active backend alone
  });

  it('reports fixes registered earlier even when asked not to register any', async () => {
    unregisterWasmFixes();
    expect((await initBackend({ backend: 'wasm', wasmFixes: false })).fixes).toEqual([]);
    expect(registeredWasmFixes()).toEqual([]);
    const native = (await initBackend({ backend: 'wasm' })).native!.available;
    expect(registeredWasmFixes()).toEqual(allFixes(native));
    expect((await initBackend({ backend: 'wasm', wasmFixes: false })).fixes).toEqual(allFixes(native));
  });

  it('says when wasm threads come too late (the backend already started single-threaded)', async () => {
    const report = await initBackend({ backend: 'wasm', wasmThreads: 2, env: noEnv });
    expect(report.wasmThreads).toEqual({ threads: 1, reason: expect.stringMatching(/already initialised/) });
    expect(formatBackendReport(report)).toMatch(/wasm threads: 1 \(the wasm backend was already initialised/);
  });

  it('leaves the native kernels out with native: false (or PEFTJS_NATIVE=0), and puts them back', async () => {
    const off = await initBackend({ backend: 'wasm', native: false, env: noEnv });
    expect(off.fixes).toEqual(allFixes(false));
    expect(off.native).toEqual({ available: false, reason: 'turned off (native: false)' });
    expect(formatBackendReport(off)).toMatch(/, native: off \(turned off \(native: false\)\)$/);
    const on = await initBackend({ backend: 'wasm', env: noEnv });
    expect(on.fixes).toEqual(allFixes(on.native!.available));
  });
});
