import { PeftError } from '@peftjs/core';

const marker = 'peftjs.error.Checkpoint';
const symbol = Symbol.for(marker);

/** A checkpoint is missing, incomplete or does not fit the model being trained; the message names the file or key. */
export class CheckpointError extends PeftError {
  private readonly [symbol] = true;

  readonly key: string | undefined;

  constructor(message: string, options: { key?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'CheckpointError';
    this.key = options.key;
  }

  static override isInstance(error: unknown): error is CheckpointError {
    return PeftError.hasMarker(error, marker);
  }
}
