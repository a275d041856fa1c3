import { PeftError } from './peft-error';

const marker = 'peftjs.error.DuplicateTuner';
const symbol = Symbol.for(marker);

/** A different tuner already holds a peftType or weightPrefix. */
export class DuplicateTunerError extends PeftError {
  private readonly [symbol] = true;

  constructor(message: string) {
    super(message);
    this.name = 'DuplicateTunerError';
  }

  static override isInstance(error: unknown): error is DuplicateTunerError {
    return PeftError.hasMarker(error, marker);
  }
}
