import { PeftError } from '@peftjs/core';

const marker = 'peftjs.error.TaskIds';
const symbol = Symbol.for(marker);

/** A forward through per-task weights got no task ids, too few or too many, or an id out of range. */
export class TaskIdsError extends PeftError {
  private readonly [symbol] = true;

  constructor(message: string) {
    super(message);
    this.name = 'TaskIdsError';
  }

  static override isInstance(error: unknown): error is TaskIdsError {
    return PeftError.hasMarker(error, marker);
  }
}
