import { PeftError } from '@peftjs/core';

/**
 * The base of every error `@peftjs/hub` throws. It extends `@peftjs/core`'s `PeftError`, so it
 * carries the `Symbol.for('peftjs.error')` marker: `PeftHubError.isInstance(error)` and
 * `PeftError.isInstance(error)` work across duplicate copies of the packages, where `instanceof`
 * would not. (`PeftHubError.isInstance` is true for every peftjs error, hub's or core's.)
 */
export class PeftHubError extends PeftError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PeftHubError';
  }
}
