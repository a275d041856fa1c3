import { PeftError } from '@peftjs/core';

const marker = 'peftjs.error.TrainableState';
const symbol = Symbol.for(marker);

/** A trainable-state file (--init-state) does not fit the model: a key is missing, extra or mis-shaped; the message names the key. */
export class TrainableStateError extends PeftError {
  private readonly [symbol] = true;

  readonly key: string | undefined;

  constructor(message: string, options: { key?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'TrainableStateError';
    this.key = options.key;
  }

  static override isInstance(error: unknown): error is TrainableStateError {
    return PeftError.hasMarker(error, marker);
  }
}
