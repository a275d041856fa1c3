import { PeftRuntimeError } from './peft-runtime-error';

const marker = 'peftjs.error.NoBackendAvailable';
const symbol = Symbol.for(marker);

/** Automatic selection tried every backend and none could be used. `attempts` says why each failed. */
export class NoBackendAvailableError extends PeftRuntimeError {
  private readonly [symbol] = true;
  readonly attempts: readonly { backend: string; error: Error }[];

  constructor(options: { attempts: readonly { backend: string; error: Error }[] }) {
    const reasons = options.attempts.map(({ backend, error }) => `${backend}: ${error.message}`).join('; ');
    super(`no TensorFlow.js backend could be initialised (${reasons}); ` + 'install one: `npm install @tensorflow/tfjs-backend-wasm` works everywhere');
    this.name = 'NoBackendAvailableError';
    this.attempts = options.attempts;
  }

  static override isInstance(value: unknown): value is NoBackendAvailableError {
    return PeftRuntimeError.hasMarker(value, marker);
  }
}
