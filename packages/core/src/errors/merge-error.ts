import { PeftError } from './peft-error';

const marker = 'peftjs.error.Merge';
const symbol = Symbol.for(marker);

/** Merging would produce non-finite weights, or the merge state does not allow the operation. */
export class MergeError extends PeftError {
  private readonly [symbol] = true;

  constructor(message: string) {
    super(message);
    this.name = 'MergeError';
  }

  static override isInstance(error: unknown): error is MergeError {
    return PeftError.hasMarker(error, marker);
  }
}
