import { BackendInitError } from '../errors/backend-init-error';
import { BackendNotInstalledError } from '../errors/backend-not-installed-error';
import type { BackendLoader, LoadedBackend, LoadOptions } from './backend-loader';
import type { BackendName } from './backend-name';
import { importOptional, isModuleNotFound, moduleExport } from './import-optional';
import { setActiveBackend } from './set-active-backend';

/**
 * A loader for a backend that one npm package provides by registering itself on import
 * (`@tensorflow/tfjs-backend-wasm`, `@tensorflow/tfjs-backend-cpu`).
 */
export function createTfjsPackageLoader(options: {
  name: BackendName;
  packageName: string;
  versionExport: string;
  initHint: string;
  /** Runs after the package is imported, before the backend is made active. */
  beforeActivate?: (options: LoadOptions) => Promise<void>;
}): BackendLoader {
  const { name, packageName, versionExport, initHint, beforeActivate } = options;
  return {
    name,
    packageNames: [packageName],
    async load(loadOptions: LoadOptions = {}): Promise<LoadedBackend> {
      let module: Record<string, unknown>;
      try {
        module = await importOptional(packageName);
      } catch (error) {
        if (isModuleNotFound(error, packageName)) {
          throw new BackendNotInstalledError({ backend: name, packageNames: [packageName], cause: error });
        }
        throw new BackendInitError({
          backend: name,
          packageName,
          reason: `importing it failed: ${error instanceof Error ? error.message : String(error)}`,
          cause: error,
        });
      }
      await beforeActivate?.(loadOptions);
      await setActiveBackend(name, packageName, initHint);
      const version = moduleExport(module, versionExport);
      return { packageName, version: typeof version === 'string' ? version : 'unknown', gpu: false };
    },
  };
}
