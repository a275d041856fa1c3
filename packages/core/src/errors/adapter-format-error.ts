import { PeftError } from './peft-error';

const marker = 'peftjs.error.AdapterFormat';
const symbol = Symbol.for(marker);

/** Adapter tensors or files do not fit the model: missing, mis-shaped or malformed. */
export class AdapterFormatError extends PeftError {
  private readonly [symbol] = true;

  readonly tensorName: string | undefined;

  constructor(message: string, options: { tensorName?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'AdapterFormatError';
    this.tensorName = options.tensorName;
  }

  static override isInstance(error: unknown): error is AdapterFormatError {
    return PeftError.hasMarker(error, marker);
  }
}
