import { PeftError } from '@peftjs/core';

const marker = 'peftjs.error.ModelLoad';
const symbol = Symbol.for(marker);

/** What went wrong while loading a model folder. */
export type ModelLoadProblem = 'missing-file' | 'invalid-config' | 'missing-weight' | 'weight-shape' | 'weight-dtype';

/**
 * A model folder cannot be loaded: a file is missing, config.json is invalid, or a weight is
 * missing or mis-shaped. `tensorName` names the checkpoint tensor when one is at fault.
 */
export class ModelLoadError extends PeftError {
  private readonly [symbol] = true;

  readonly problem: ModelLoadProblem;
  readonly tensorName: string | undefined;
  readonly path: string | undefined;

  constructor(message: string, options: { problem: ModelLoadProblem; tensorName?: string; path?: string; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = 'ModelLoadError';
    this.problem = options.problem;
    this.tensorName = options.tensorName;
    this.path = options.path;
  }

  static override isInstance(error: unknown): error is ModelLoadError {
    return PeftError.hasMarker(error, marker);
  }
}
