const marker = 'peftjs.error';
const symbol = Symbol.for(marker);

/**
 * The base of every error `@peftjs/runtime` throws.
 *
 * It carries the same `Symbol.for('peftjs.error')` marker as `@peftjs/core`'s `PeftError`, so
 * `PeftRuntimeError.isInstance(error)` (and core's `PeftError.isInstance(error)`) works across
 * duplicate copies of the packages, where `instanceof` would not. Runtime sits below core in the
 * dependency graph (core never needs a backend), so the base is defined here rather than imported.
 */
export class PeftRuntimeError extends Error {
  private readonly [symbol] = true;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PeftRuntimeError';
  }

  /** True for any peftjs error (runtime's, core's, hub's), from this copy of the package or another one. */
  static isInstance(error: unknown): error is PeftRuntimeError {
    return PeftRuntimeError.hasMarker(error, marker);
  }

  protected static hasMarker(error: unknown, markerName: string): boolean {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[Symbol.for(markerName)] === true;
  }
}
