import { PeftError } from './peft-error';

const marker = 'peftjs.error.NoBackend';
const symbol = Symbol.for(marker);

/** The packages that give TensorFlow.js a backend, named whenever none is installed. */
export const BACKEND_PACKAGES = [
  '@peftjs/runtime (initBackend() picks the best present: tfjs-node, WebGPU, wasm, cpu)',
  '@tensorflow/tfjs-backend-wasm',
  '@tensorflow/tfjs-backend-cpu',
] as const;

/** No TensorFlow.js backend is registered: peftjs (a tfjs library) cannot run a single op. */
export class NoBackendError extends PeftError {
  private readonly [symbol] = true;

  constructor() {
    super(`no TensorFlow.js backend is installed; install and import one of: ${BACKEND_PACKAGES.join(', ')}`);
    this.name = 'NoBackendError';
  }

  static override isInstance(error: unknown): error is NoBackendError {
    return PeftError.hasMarker(error, marker);
  }
}
