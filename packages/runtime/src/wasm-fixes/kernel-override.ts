import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { getKernel, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';

import type { WasmFixUnit } from './wasm-fix-unit';
import type { WasmFixName } from './wasm-fix-names';

/** Undoes a registration. */
export type Restore = () => void;

const backendName = 'wasm';

/** One override in a kernel's stack: what it was registered over (which it may call). */
interface Layer {
  below: KernelConfig;
}

/** Every override in place, by its kernel function; global like tfjs' own registries. */
const layers: Map<KernelFunc, Layer> = ((globalThis as Record<symbol, unknown>)[Symbol.for('peftjs.runtime.kernelLayers')] ??= new Map<KernelFunc, Layer>()) as Map<
  KernelFunc,
  Layer
>;

/** Whether `kernelFunc` is the registered wasm kernel or one it was registered over. */
function inStack(kernelName: string, kernelFunc: KernelFunc): boolean {
  let current: KernelFunc | undefined = getKernel(kernelName, backendName)?.kernelFunc;
  while (current !== undefined) {
    if (current === kernelFunc) {
      return true;
    }
    current = layers.get(current)?.below.kernelFunc;
  }
  return false;
}

/**
 * A fix that replaces the registered wasm `kernelName` kernel with `create(below)`, where `below`
 * is the kernel registered before (the stock one, or another fix's) that it can fall back to.
 * Overrides stack: the native matrix product goes over runtime's own, which goes over the stock
 * kernel. The kernel's `setupFunc` (the backend runs it when it initialises; the stock kernel
 * function depends on it) and `disposeFunc` are kept. Undoing it puts back what was below, also
 * when another override has been stacked on top since (that one then falls back past it). Not
 * needed (nothing registered) when wasm has no such kernel, or when `create` returns undefined.
 */
export function kernelOverrideFix(name: WasmFixName, kernelName: string, create: (below: KernelConfig) => KernelFunc | undefined): WasmFixUnit & { readonly kernelName: string } {
  let installed: KernelFunc | undefined;
  return {
    name,
    kernelName,
    apply() {
      const top = getKernel(kernelName, backendName);
      if (top == null) {
        return null;
      }
      const layer: Layer = { below: top };
      // `below` is looked up on every call, so that removing a layer underneath re-links this one.
      const below: KernelConfig = { ...top, kernelFunc: (args) => layer.below.kernelFunc(args) };
      const kernelFunc = create(below);
      if (kernelFunc === undefined) {
        return null;
      }
      installed = kernelFunc;
      layers.set(kernelFunc, layer);
      unregisterKernel(kernelName, backendName);
      registerKernel({ kernelName, backendName, kernelFunc, setupFunc: top.setupFunc, disposeFunc: top.disposeFunc });
      return () => {
        if (getKernel(kernelName, backendName)?.kernelFunc === kernelFunc) {
          unregisterKernel(kernelName, backendName);
          registerKernel(layer.below);
        } else {
          for (const other of layers.values()) {
            if (other.below.kernelFunc === kernelFunc) {
              other.below = layer.below;
            }
          }
        }
        layers.delete(kernelFunc);
        if (installed === kernelFunc) {
          installed = undefined;
        }
      };
    },
    isActive: () => installed !== undefined && inStack(kernelName, installed),
  };
}

/**
 * A fix that registers a wasm kernel the backend lacks. Not needed (nothing registered) when the
 * backend already has one: a newer backend release wins over the fill-in.
 */
export function missingKernelFix(name: WasmFixName, kernelName: string, kernelFunc: KernelFunc): WasmFixUnit {
  return {
    name,
    apply() {
      if (getKernel(kernelName, backendName) != null) {
        return null;
      }
      registerKernel({ kernelName, backendName, kernelFunc });
      return () => {
        if (getKernel(kernelName, backendName)?.kernelFunc === kernelFunc) {
          unregisterKernel(kernelName, backendName);
        }
      };
    },
    isActive: () => getKernel(kernelName, backendName)?.kernelFunc === kernelFunc,
  };
}
