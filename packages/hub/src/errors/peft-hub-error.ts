import { PeftError } from '@peftjs/core';

const marker = 'peftjs.error.Hub';
const symbol = Symbol.for(marker);

/**
 * The base of every error `@peftjs/hub` throws. It extends `@peftjs/core`'s `PeftError`, so it
 * carries both markers: `PeftHubError.isInstance(error)` is true for hub errors only, and
 * `PeftError.isInstance(error)` for every peftjs error; both work across duplicate copies of the
 * packages, where `instanceof` would not.
 */
export class PeftHubError extends PeftError {
  private readonly [symbol] = true;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PeftHubError';
  }

  static override isInstance(error: unknown): error is PeftHubError {
    return PeftError.hasMarker(error, marker);
  }
}
