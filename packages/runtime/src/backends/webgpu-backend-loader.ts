import * as tf from '@tensorflow/tfjs-core';

import { BackendInitError } from '../errors/backend-init-error';
import { BackendNotInstalledError } from '../errors/backend-not-installed-error';
import type { BackendLoader, LoadedBackend, LoadOptions } from './backend-loader';
import { importOptional, isModuleNotFound, moduleExport } from './import-optional';

const backendPackage = '@tensorflow/tfjs-backend-webgpu';
const dawnPackage = 'webgpu';

/** The parts of the WebGPU API the loader touches (typed loosely: `@webgpu/types` is not a dependency). */
interface Gpu {
  requestAdapter(options?: { powerPreference?: string }): Promise<Adapter | null>;
}
interface Adapter {
  readonly features: { has(name: string): boolean };
  readonly limits: Record<string, number>;
  readonly info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  readonly isFallbackAdapter?: boolean;
  requestDevice(descriptor?: Record<string, unknown>): Promise<unknown>;
}

/** What the webgpu loader found, for the report. */
export interface WebGpuAdapterReport {
  readonly description: string;
  /** A software rasterizer (lavapipe / llvmpipe, SwiftShader): WebGPU on the CPU. */
  readonly fallback: boolean;
}

let lastAdapter: WebGpuAdapterReport | undefined;

/** The adapter the last successful webgpu load used. */
export function webgpuAdapterReport(): WebGpuAdapterReport | undefined {
  return lastAdapter;
}

/**
 * `webgpu`: `@tensorflow/tfjs-backend-webgpu` on the browser's `navigator.gpu`, or in Node on the
 * `webgpu` npm package (Dawn, with a prebuilt `dawn.node`; Vulkan underneath on Linux).
 *
 * The adapter is created and checked here (tfjs' own factory only registers itself where
 * `navigator.gpu` exists, so never in Node 20): no adapter is a `BackendInitError`; a software
 * (fallback) adapter such as lavapipe is refused in automatic selection (wasm is faster on the same
 * CPU) and accepted when webgpu is asked for by name. The backend is then registered with a factory
 * that builds tfjs' `WebGPUBackend` on the device made here. A failed `setBackend('webgpu')` leaves
 * tfjs with no backend at all, so the previous backend (if any) is made active again before the
 * error is thrown (automatic selection then goes on to wasm).
 */
export const webgpuBackendLoader: BackendLoader = {
  name: 'webgpu',
  packageNames: [backendPackage, dawnPackage],
  async load(options: LoadOptions = {}): Promise<LoadedBackend> {
    const browserGpu = (globalThis as { navigator?: { gpu?: Gpu } }).navigator?.gpu;
    let gpu: Gpu;
    if (browserGpu !== undefined) {
      gpu = browserGpu;
    } else {
      if (options.acceptSoftwareAdapter !== true && !(await mayHaveGpu())) {
        // Automatic selection on a Linux machine with no GPU device node: the only adapter Dawn
        // could find is a software one (which would be refused), so Dawn is not even started.
        throw new BackendInitError({
          backend: 'webgpu',
          packageName: dawnPackage,
          reason: "no GPU device (/dev/dri/renderD*, /dev/nvidia*, /dev/dxg); ask for backend: 'webgpu' to try a software adapter",
        });
      }
      const dawn = await importOrExplain(dawnPackage);
      const create = moduleExport(dawn, 'create') as (flags: string[]) => Gpu;
      const globals = moduleExport(dawn, 'globals') as Record<string, unknown>;
      // GPUBufferUsage, GPUMapMode, GPUTextureUsage, … : tfjs' kernels read them as globals.
      for (const [name, value] of Object.entries(globals ?? {})) {
        (globalThis as Record<string, unknown>)[name] ??= value;
      }
      gpu = create([]);
    }
    exposeNavigatorGpu(gpu);
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (adapter == null) {
      throw new BackendInitError({ backend: 'webgpu', packageName: dawnPackage, reason: 'no WebGPU adapter (no Vulkan / Metal / D3D12 driver that Dawn can use)' });
    }
    const info = adapter.info ?? {};
    const fallback = info.isFallbackAdapter === true || adapter.isFallbackAdapter === true || info.architecture === 'software';
    const description = info.description || [info.vendor, info.architecture, info.device].filter(Boolean).join(' ') || 'unknown adapter';
    if (fallback && options.acceptSoftwareAdapter !== true) {
      throw new BackendInitError({
        backend: 'webgpu',
        packageName: dawnPackage,
        reason: `the only WebGPU adapter is a software one (${description}); wasm is faster on this CPU. Ask for backend: 'webgpu' to use it anyway`,
      });
    }
    const webgpu = await importOrExplain(backendPackage);
    const WebGPUBackend = moduleExport(webgpu, 'WebGPUBackend') as new (device: unknown, adapterInfo?: unknown) => tf.KernelBackend;
    // The device tfjs' own factory would ask for.
    const requiredFeatures = ['timestamp-query'].filter((feature) => adapter.features.has(feature));
    const limitNames = [
      'maxComputeWorkgroupStorageSize',
      'maxComputeWorkgroupsPerDimension',
      'maxStorageBufferBindingSize',
      'maxBufferSize',
      'maxComputeWorkgroupSizeX',
      'maxComputeInvocationsPerWorkgroup',
    ];
    let device: unknown;
    try {
      device = await adapter.requestDevice({
        requiredFeatures,
        requiredLimits: Object.fromEntries(limitNames.map((name) => [name, adapter.limits[name]])),
      });
    } catch (error) {
      throw new BackendInitError({
        backend: 'webgpu',
        packageName: dawnPackage,
        reason: `requestDevice failed: ${error instanceof Error ? error.message : String(error)}`,
        cause: error,
      });
    }
    if (tf.findBackendFactory('webgpu') != null) {
      tf.removeBackend('webgpu');
    }
    tf.registerBackend('webgpu', () => new WebGPUBackend(device, info), 3);
    const previous = (tf.engine() as unknown as { backendName?: string }).backendName;
    let ok = false;
    let failure: unknown;
    try {
      ok = await tf.setBackend('webgpu');
    } catch (error) {
      failure = error;
    }
    if (!ok) {
      tf.removeBackend('webgpu');
      if (previous !== undefined && previous !== 'webgpu' && tf.findBackendFactory(previous) != null) {
        await tf.setBackend(previous);
      }
      throw new BackendInitError({
        backend: 'webgpu',
        packageName: backendPackage,
        reason: `tf.setBackend('webgpu') failed${failure instanceof Error ? `: ${failure.message}` : ''}`,
        cause: failure,
      });
    }
    lastAdapter = Object.freeze({ description, fallback });
    const version = moduleExport(webgpu, 'version_webgpu') ?? (await packageVersion(backendPackage));
    return { packageName: backendPackage, version: typeof version === 'string' ? version : 'unknown', gpu: !fallback };
  },
};

/** Linux: whether a GPU device node exists (other systems: assume one may). */
async function mayHaveGpu(): Promise<boolean> {
  if ((globalThis as { process?: { platform?: string } }).process?.platform !== 'linux') {
    return true;
  }
  try {
    const { existsSync, readdirSync } = (await importOptional('node:fs')) as unknown as typeof import('node:fs');
    if (existsSync('/dev/dxg') || existsSync('/dev/nvidia0') || existsSync('/dev/nvidiactl')) {
      return true;
    }
    return existsSync('/dev/dri') && readdirSync('/dev/dri').some((name) => name.startsWith('renderD') || name.startsWith('card'));
  } catch {
    return true;
  }
}

/** A package's version from its package.json (Node; tfjs-backend-webgpu exports none). */
async function packageVersion(packageName: string): Promise<string | undefined> {
  try {
    const { createRequire } = (await importOptional('node:module')) as unknown as typeof import('node:module');
    return (createRequire(import.meta.url)(`${packageName}/package.json`) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/**
 * tfjs' WebGPUBackend checks `navigator.gpu` when it is constructed. Node 20 has no `navigator`
 * (Node 21+ has one without `gpu`): give it the Dawn instance.
 */
function exposeNavigatorGpu(gpu: Gpu): void {
  const scope = globalThis as { navigator?: { gpu?: Gpu } };
  if (scope.navigator === undefined) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  } else if (scope.navigator.gpu === undefined) {
    Object.defineProperty(scope.navigator, 'gpu', { value: gpu, configurable: true });
  }
}

async function importOrExplain(packageName: string): Promise<Record<string, unknown>> {
  try {
    return await importOptional(packageName);
  } catch (error) {
    if (isModuleNotFound(error, packageName)) {
      throw new BackendNotInstalledError({ backend: 'webgpu', packageNames: [backendPackage, dawnPackage], cause: error });
    }
    throw new BackendInitError({
      backend: 'webgpu',
      packageName,
      reason: `importing it failed: ${error instanceof Error ? error.message : String(error)}`,
      cause: error,
    });
  }
}
