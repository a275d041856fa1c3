import { PeftError } from '@peftjs/core';

const marker = 'peftjs.error.TrainingArguments';
const symbol = Symbol.for(marker);

/** A training argument is invalid; the message names it, the bad value and the valid choices. */
export class TrainingArgumentsError extends PeftError {
  private readonly [symbol] = true;

  readonly field: string | undefined;

  constructor(message: string, options: { field?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'TrainingArgumentsError';
    this.field = options.field;
  }

  static override isInstance(error: unknown): error is TrainingArgumentsError {
    return PeftError.hasMarker(error, marker);
  }
}
