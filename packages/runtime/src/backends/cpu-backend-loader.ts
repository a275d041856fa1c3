import type { BackendLoader } from './backend-loader';
import { createTfjsPackageLoader } from './tfjs-package-loader';

/** `@tensorflow/tfjs-backend-cpu`: plain JavaScript. The slow reference, and the last resort. */
export const cpuBackendLoader: BackendLoader = createTfjsPackageLoader({
  name: 'cpu',
  packageName: '@tensorflow/tfjs-backend-cpu',
  versionExport: 'version_cpu',
  initHint: 'the cpu backend should always initialise; is a second copy of @tensorflow/tfjs-core installed?',
});
