import * as tf from '@tensorflow/tfjs-core';

import { BackendInitError } from '../errors/backend-init-error';
import { BackendNotInstalledError } from '../errors/backend-not-installed-error';
import type { BackendLoader, LoadedBackend } from './backend-loader';
import { importOptional, isModuleNotFound, moduleExport } from './import-optional';
import { setActiveBackend } from './set-active-backend';

const packageNames = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

/**
 * `tensorflow`: libtensorflow through `@tensorflow/tfjs-node-gpu` (CUDA) or `@tensorflow/tfjs-node`.
 * The GPU package is tried first, so installing it is all a CUDA user has to do; when it is
 * installed but cannot load (no CUDA libraries), the CPU package is tried next.
 *
 * Either package registers the `tensorflow` backend and makes it active as it is imported. Its
 * backend object says whether TensorFlow placed ops on a GPU (`isUsingGpuDevice`).
 */
export const tensorflowBackendLoader: BackendLoader = {
  name: 'tensorflow',
  packageNames,
  async load(): Promise<LoadedBackend> {
    const failures: BackendInitError[] = [];
    const missing: unknown[] = [];
    for (const packageName of packageNames) {
      let module: Record<string, unknown>;
      try {
        module = await importOptional(packageName);
      } catch (error) {
        if (isModuleNotFound(error, packageName)) {
          missing.push(error);
        } else {
          failures.push(
            new BackendInitError({
              backend: 'tensorflow',
              packageName,
              reason: `importing it failed: ${error instanceof Error ? error.message : String(error)}`,
              cause: error,
            }),
          );
          // A package that failed half-way may have registered a factory that cannot work; the
          // next package registers its own under the same name.
          removeBackendIfRegistered('tensorflow');
        }
        continue;
      }
      try {
        await setActiveBackend('tensorflow', packageName, 'libtensorflow did not initialise');
      } catch (error) {
        failures.push(error as BackendInitError);
        removeBackendIfRegistered('tensorflow');
        continue;
      }
      const backend = tf.backend() as { isUsingGpuDevice?: unknown };
      const version = moduleExport(module, 'version') as Record<string, unknown> | undefined;
      const nodeVersion = version?.['tfjs-node'];
      return {
        packageName,
        version: typeof nodeVersion === 'string' ? nodeVersion : 'unknown',
        gpu: backend.isUsingGpuDevice === true,
      };
    }
    if (failures.length > 0) {
      throw failures[0];
    }
    throw new BackendNotInstalledError({ backend: 'tensorflow', packageNames, cause: missing[0] });
  },
};

function removeBackendIfRegistered(name: string): void {
  if (tf.findBackendFactory(name) != null) {
    tf.removeBackend(name);
  }
}
