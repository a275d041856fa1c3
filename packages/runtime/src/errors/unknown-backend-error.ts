import { PeftRuntimeError } from './peft-runtime-error';

const marker = 'peftjs.error.UnknownBackend';
const symbol = Symbol.for(marker);

/** A backend was asked for by a name runtime does not know (`options.backend` or `PEFTJS_BACKEND`). */
export class UnknownBackendError extends PeftRuntimeError {
  private readonly [symbol] = true;
  /** The name as it was given. */
  readonly requested: string;
  /** Where the name came from: the `backend` option or the `PEFTJS_BACKEND` environment variable. */
  readonly source: 'option' | 'env';
  /** The names that would have been accepted. */
  readonly validChoices: readonly string[];

  constructor(options: { requested: string; source: 'option' | 'env'; validChoices: readonly string[] }) {
    const where = options.source === 'env' ? 'PEFTJS_BACKEND' : 'options.backend';
    super(`unknown backend "${options.requested}" (from ${where}); valid choices: ${options.validChoices.join(', ')}`);
    this.name = 'UnknownBackendError';
    this.requested = options.requested;
    this.source = options.source;
    this.validChoices = options.validChoices;
  }

  static override isInstance(value: unknown): value is UnknownBackendError {
    return PeftRuntimeError.hasMarker(value, marker);
  }
}
