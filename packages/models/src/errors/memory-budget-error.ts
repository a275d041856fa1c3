import { PeftError } from '@peftjs/core';

const marker = 'peftjs.error.MemoryBudget';
const symbol = Symbol.for(marker);

/**
 * A model or a batch will not fit: raised before anything is loaded or run, with one line naming
 * what is needed, what is available, and the options that help.
 */
export class MemoryBudgetError extends PeftError {
  private readonly [symbol] = true;

  /** Bytes needed and available, in the memory that runs out (`wasm heap` or `memory`). */
  readonly needed: number;
  readonly available: number;
  readonly memory: 'wasm heap' | 'memory';

  constructor(message: string, options: { needed: number; available: number; memory: 'wasm heap' | 'memory' }) {
    super(message);
    this.name = 'MemoryBudgetError';
    this.needed = options.needed;
    this.available = options.available;
    this.memory = options.memory;
  }

  static override isInstance(error: unknown): error is MemoryBudgetError {
    return PeftError.hasMarker(error, marker);
  }
}
