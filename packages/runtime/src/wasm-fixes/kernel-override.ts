import type { KernelConfig, KernelFunc } from '@tensorflow/tfjs-core';
import { getKernel, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';

import type { WasmFixUnit } from './wasm-fix-unit';
import type { WasmFixName } from './wasm-fix-names';

/** Undoes a registration. */
export type Restore = () => void;

const backendName = 'wasm';

/**
 * A fix that replaces the registered wasm `kernelName` kernel with `create(stock)`. The stock
 * kernel's `setupFunc` (the backend runs it when it initialises; the stock kernel function depends
 * on it) and `disposeFunc` are kept. Undoing it puts the stock kernel back. Not needed (nothing
 * registered) when wasm has no such kernel.
 */
export function kernelOverrideFix(
  name: WasmFixName,
  kernelName: string,
  create: (stock: KernelConfig) => KernelFunc,
): WasmFixUnit {
  let installed: KernelFunc | undefined;
  return {
    name,
    apply() {
      const stock = getKernel(kernelName, backendName);
      if (stock == null) {
        return null;
      }
      installed = create(stock);
      unregisterKernel(kernelName, backendName);
      registerKernel({
        kernelName,
        backendName,
        kernelFunc: installed,
        setupFunc: stock.setupFunc,
        disposeFunc: stock.disposeFunc,
      });
      return () => {
        if (getKernel(kernelName, backendName)?.kernelFunc === installed) {
          unregisterKernel(kernelName, backendName);
          registerKernel(stock);
        }
        installed = undefined;
      };
    },
    isActive: () => installed !== undefined && getKernel(kernelName, backendName)?.kernelFunc === installed,
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
