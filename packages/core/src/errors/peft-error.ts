const marker = 'peftjs.error';
const symbol = Symbol.for(marker);

/**
 * The base of every error peftjs throws. `PeftError.isInstance` works across duplicate copies
 * of the package (the marker is a global symbol), where `instanceof` would not.
 */
export class PeftError extends Error {
  private readonly [symbol] = true;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PeftError';
  }

  static isInstance(error: unknown): error is PeftError {
    return PeftError.hasMarker(error, marker);
  }

  protected static hasMarker(error: unknown, markerName: string): boolean {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[Symbol.for(markerName)] === true;
  }
}
