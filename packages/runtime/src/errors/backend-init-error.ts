import { PeftRuntimeError } from './peft-runtime-error';

const marker = 'peftjs.error.BackendInit';
const symbol = Symbol.for(marker);

/**
 * The backend's package is installed but it failed to load or to initialise (a native library that
 * does not load, a `.wasm` file that cannot be found, no usable device). `cause` holds the original error.
 */
export class BackendInitError extends PeftRuntimeError {
  private readonly [symbol] = true;
  readonly backend: string;
  readonly packageName: string;

  constructor(options: { backend: string; packageName: string; reason: string; cause?: unknown }) {
    super(`backend "${options.backend}" (${options.packageName}) failed to initialise: ${options.reason}`, {
      cause: options.cause,
    });
    this.name = 'BackendInitError';
    this.backend = options.backend;
    this.packageName = options.packageName;
  }

  static override isInstance(value: unknown): value is BackendInitError {
    return PeftRuntimeError.hasMarker(value, marker);
  }
}
