import { PeftError } from './peft-error';

const marker = 'peftjs.error.NoSuchAdapter';
const symbol = Symbol.for(marker);

/** An adapter name that the model does not hold. */
export class NoSuchAdapterError extends PeftError {
  private readonly [symbol] = true;

  readonly adapterName: string;

  constructor(options: { adapterName: string; available: readonly string[] }) {
    super(`no adapter named "${options.adapterName}"; available: ${options.available.length ? options.available.join(', ') : '(none)'}`);
    this.name = 'NoSuchAdapterError';
    this.adapterName = options.adapterName;
  }

  static override isInstance(error: unknown): error is NoSuchAdapterError {
    return PeftError.hasMarker(error, marker);
  }
}
