import { PeftError } from './peft-error';

const marker = 'peftjs.error.NoMatchingTarget';
const symbol = Symbol.for(marker);

/** Target patterns matched no layer of the model; the message lists the closest layer names. */
export class NoMatchingTargetError extends PeftError {
  private readonly [symbol] = true;

  constructor(message: string) {
    super(message);
    this.name = 'NoMatchingTargetError';
  }

  static override isInstance(error: unknown): error is NoMatchingTargetError {
    return PeftError.hasMarker(error, marker);
  }
}
