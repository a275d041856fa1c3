import { PeftError } from './peft-error';

const marker = 'peftjs.error.AdapterState';
const symbol = Symbol.for(marker);

/** The operation does not fit the adapters' current state (merged, training, name taken, mixed types). */
export class AdapterStateError extends PeftError {
  private readonly [symbol] = true;

  constructor(message: string) {
    super(message);
    this.name = 'AdapterStateError';
  }

  static override isInstance(error: unknown): error is AdapterStateError {
    return PeftError.hasMarker(error, marker);
  }
}
