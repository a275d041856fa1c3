import { BackendInitError } from '../errors/backend-init-error';
import { BackendNotInstalledError } from '../errors/backend-not-installed-error';
import type { BackendLoader, LoadedBackend } from './backend-loader';
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
}): BackendLoader {
  const { name, packageName, versionExport, initHint } = options;
  return {
    name,
    packageNames: [packageName],
    async load(): Promise<LoadedBackend> {
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
      await setActiveBackend(name, packageName, initHint);
      const version = moduleExport(module, versionExport);
      return { packageName, version: typeof version === 'string' ? version : 'unknown', gpu: false };
    },
  };
}
