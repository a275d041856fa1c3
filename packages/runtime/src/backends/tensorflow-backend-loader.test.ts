import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import { BackendInitError } from '../errors/backend-init-error';
import { initBackend } from '../init-backend';
import { WASM_FIX_NAMES } from '../wasm-fixes/wasm-fix-names';

// tfjs-node cannot be installed here (its install downloads libtensorflow), so these tests stand
// in for it: `fakes` maps a package name to what importing it does. Anything else is imported for real.
const fakes = vi.hoisted(() => new Map<string, () => Promise<Record<string, unknown>>>());

vi.mock('./import-optional', async (importOriginal) => {
  const original = await importOriginal<typeof import('./import-optional')>();
  return {
    ...original,
    importOptional: (packageName: string) => fakes.get(packageName)?.() ?? original.importOptional(packageName),
  };
});

/** What importing tfjs-node does: register the `tensorflow` backend (priority 3) and switch to it. */
function fakeTfjsNode(options: { gpu: boolean; packageName: string }) {
  return async () => {
    tf.registerBackend('tensorflow', () => Object.assign(new MathBackendCPU(), { isUsingGpuDevice: options.gpu, isGPUPackage: options.packageName.endsWith('-gpu') }), 3);
    await tf.setBackend('tensorflow');
    return { version: { 'tfjs-core': '4.22.0', 'tfjs-node': '4.22.0' } };
  };
}

function nativeLoadFailure(packageName: string) {
  return async () => {
    // tfjs-node-gpu registers its backend factory before the native binding throws.
    tf.registerBackend('tensorflow', () => {
      throw new Error('unreachable');
    });
    throw new Error(`libcudart.so.11.0: cannot open shared object file (loading ${packageName})`);
  };
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
});

afterEach(async () => {
  fakes.clear();
  if (tf.findBackendFactory('tensorflow') != null) {
    tf.removeBackend('tensorflow');
  }
  await tf.setBackend('wasm');
});

describe('the tensorflow backend (tfjs-node stand-ins)', () => {
  it('prefers tfjs-node-gpu and reports the GPU it uses', async () => {
    fakes.set('@tensorflow/tfjs-node-gpu', fakeTfjsNode({ gpu: true, packageName: '@tensorflow/tfjs-node-gpu' }));
    const report = await initBackend({ env: {} });
    expect(report).toEqual({ backend: 'tensorflow', gpu: true, packageName: '@tensorflow/tfjs-node-gpu', version: '4.22.0', fixes: [] });
    expect(tf.getBackend()).toBe('tensorflow');
  });

  it('reports no GPU when tfjs-node-gpu finds none', async () => {
    fakes.set('@tensorflow/tfjs-node-gpu', fakeTfjsNode({ gpu: false, packageName: '@tensorflow/tfjs-node-gpu' }));
    expect(await initBackend({ backend: 'tensorflow' })).toMatchObject({ gpu: false, packageName: '@tensorflow/tfjs-node-gpu' });
  });

  it('uses tfjs-node when tfjs-node-gpu is installed but cannot load (no CUDA)', async () => {
    fakes.set('@tensorflow/tfjs-node-gpu', nativeLoadFailure('@tensorflow/tfjs-node-gpu'));
    fakes.set('@tensorflow/tfjs-node', fakeTfjsNode({ gpu: false, packageName: '@tensorflow/tfjs-node' }));
    expect(await initBackend({ env: {} })).toEqual({
      backend: 'tensorflow',
      gpu: false,
      packageName: '@tensorflow/tfjs-node',
      version: '4.22.0',
      fixes: [],
    });
  });

  it('falls back to wasm when tfjs-node-gpu cannot load and tfjs-node is absent', async () => {
    fakes.set('@tensorflow/tfjs-node-gpu', nativeLoadFailure('@tensorflow/tfjs-node-gpu'));
    const report = await initBackend({ env: {} });
    expect(report).toMatchObject({ backend: 'wasm', fixes: WASM_FIX_NAMES });
    expect(tf.getBackend()).toBe('wasm');
    expect(tf.findBackendFactory('tensorflow')).toBeNull();
  });

  it('says why when tensorflow is asked for by name but cannot load', async () => {
    fakes.set('@tensorflow/tfjs-node-gpu', nativeLoadFailure('@tensorflow/tfjs-node-gpu'));
    const error = await initBackend({ backend: 'tensorflow' }).catch((caught: unknown) => caught);
    expect(BackendInitError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/^backend "tensorflow" \(@tensorflow\/tfjs-node-gpu\) failed to initialise: importing it failed: libcudart/);
    expect((error as Error).cause).toBeInstanceOf(Error);
  });
});
