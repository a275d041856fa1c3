import { PeftHubError } from './peft-hub-error';

const marker = 'peftjs.error.SafetensorsWrite';
const symbol = Symbol.for(marker);

/**
 * A tensor cannot be written as asked: an unsupported dtype, a value that does not fit the
 * target integer dtype, a reserved or duplicate name, or non-string metadata.
 */
export class SafetensorsWriteError extends PeftHubError {
  private readonly [symbol] = true;
  readonly tensorName: string | undefined;

  constructor(options: { message: string; tensorName?: string; cause?: unknown }) {
    super(options.message, { cause: options.cause });
    this.name = 'SafetensorsWriteError';
    this.tensorName = options.tensorName;
  }

  static override isInstance(value: unknown): value is SafetensorsWriteError {
    return PeftHubError.hasMarker(value, marker);
  }
}
