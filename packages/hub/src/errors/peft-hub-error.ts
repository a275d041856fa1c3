const marker = 'peftjs.error';
const symbol = Symbol.for(marker);

/**
 * The base of every error `@peftjs/hub` throws.
 *
 * It carries the same `Symbol.for('peftjs.error')` marker as `@peftjs/core`'s `PeftError`, so
 * `PeftHubError.isInstance(error)` (and core's `PeftError.isInstance(error)`) works across
 * duplicate copies of the packages, where `instanceof` would not. It is defined here rather than
 * imported from core so that hub does not race core's development; it can later be re-parented
 * onto `PeftError` without any change to its API.
 */
export class PeftHubError extends Error {
  private readonly [symbol] = true;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PeftHubError';
  }

  /** True for any peftjs error (hub's or core's), from this copy of the package or another one. */
  static isInstance(error: unknown): error is PeftHubError {
    return PeftHubError.hasMarker(error, marker);
  }

  protected static hasMarker(error: unknown, markerName: string): boolean {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[Symbol.for(markerName)] === true;
  }
}
