import { PeftRuntimeError } from './peft-runtime-error';

const marker = 'peftjs.error.WasmFixes';
const symbol = Symbol.for(marker);

/** The wasm fixes could not be registered: the wasm backend's kernels are not loaded, or a fix name is unknown. */
export class WasmFixesError extends PeftRuntimeError {
  private readonly [symbol] = true;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WasmFixesError';
  }

  static override isInstance(value: unknown): value is WasmFixesError {
    return PeftRuntimeError.hasMarker(value, marker);
  }
}
