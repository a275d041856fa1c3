import { PeftError } from './peft-error';

const marker = 'peftjs.error.InvalidConfig';
const symbol = Symbol.for(marker);

/** A config value is invalid; the message names the field, the bad value and the valid choices. */
export class InvalidConfigError extends PeftError {
  private readonly [symbol] = true;

  readonly field: string | undefined;

  constructor(message: string, options: { field?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'InvalidConfigError';
    this.field = options.field;
  }

  static override isInstance(error: unknown): error is InvalidConfigError {
    return PeftError.hasMarker(error, marker);
  }
}
