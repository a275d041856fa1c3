import { PeftError } from '@peftjs/core';

const marker = 'peftjs.error.TaskTypeMismatch';
const symbol = Symbol.for(marker);

/**
 * An adapter's `task_type` does not fit the `AutoPeftModelFor…` class asked to load it (PEFT's
 * "Expected target PEFT class …"), or a task type was given to the task-less `AutoPeftModel`.
 * `expected` is the class's task type (null for `AutoPeftModel`), `actual` the adapter's.
 */
export class TaskTypeMismatchError extends PeftError {
  private readonly [symbol] = true;

  readonly className: string;
  readonly expected: string | null;
  readonly actual: string | null;

  constructor(message: string, options: { className: string; expected: string | null; actual: string | null }) {
    super(message);
    this.name = 'TaskTypeMismatchError';
    this.className = options.className;
    this.expected = options.expected;
    this.actual = options.actual;
  }

  static override isInstance(error: unknown): error is TaskTypeMismatchError {
    return PeftError.hasMarker(error, marker);
  }
}
